// The dashboard: tabs, start-up loads, and the live event stream that keeps
// every tab current without polling.

import { openEvents } from './sse.js';
import { loadAgents, loadExperiments } from './state.js';
import { $, $$, debounce, toast } from './util.js';
import { initAgents, showAgents } from './agents.js';
import { initExperiments, showExperiments } from './experiments.js';
import { initJobs, showJobs, loadJobs, onJobEvent, showJob } from './jobs.js';
import { initResults, showResults, loadResults } from './results.js';
import { initHistory } from './history.js';
import { initBaselines, loadBaselines } from './baselines.js';
import { initCompare } from './compare.js';
import { onRegressionEvent } from './regressions.js';
import { showSchedules, loadSchedules, onScheduleJobEvent } from './schedules.js';

const TABS = { agents: showAgents, experiments: showExperiments, jobs: showJobs, results: showResults, schedules: showSchedules };
let tab = 'agents';

function report(e) {
  toast(e.detail || e.message || String(e), true);
}

// #<tab>, or #jobs/<job_id>: the Jobs tab with that job's detail open.
function showTab(e) {
  const hash = e && e.newURL ? new URL(e.newURL).hash : location.hash;
  const [name, jobId] = hash.slice(1).split('/');
  tab = TABS[name] ? name : 'agents';
  if (tab === 'jobs' && jobId) showJob(decodeURIComponent(jobId));
  for (const a of $$('#tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
  for (const s of $$('.tab')) s.hidden = s.id !== `tab-${tab}`;
  document.title = `ruckus · ${tab}`;
  TABS[tab]().catch(report);
}

// Bursts of events (a run on ten agents) cause one reload each, not ten.
const reloadAgents = debounce(() => loadAgents().catch(report), 300);
const reloadResults = debounce(() => { if (tab === 'results') loadResults().catch(report); }, 300);
const reloadBaselines = debounce(() => loadBaselines().catch(report), 300);
// A firing makes jobs, and their ends are the last run's outcome.
const reloadSchedules = debounce(() => { if (tab === 'schedules') loadSchedules().catch(report); }, 300);
const reloadAll = debounce(() => {
  Promise.all([loadAgents(), loadExperiments(), loadBaselines()]).then(() => TABS[tab]()).catch(report);
}, 300);

// One event of the stream, parsed (exported for the tests, which feed it
// events the server does not send yet).
export function handleEvent(type, data) {
  if (type === 'job') {
    onJobEvent(data);
    onScheduleJobEvent(data);
    reloadSchedules();
    reloadAgents(); // running and queued jobs per agent moved
    if (['completed', 'failed', 'timeout'].includes(data.status && data.status.status)) reloadResults();
  } else if (type === 'agent') {
    reloadAgents();
  } else if (type === 'regression') {
    onRegressionEvent(data); // a result slower than its baseline: a notice, marked in the history
  } else if (type === 'baseline') {
    reloadBaselines();
  } else if (type === 'schedule') {
    reloadSchedules(); // created, paused, resumed, deleted or fired
  } else if (type === 'experiment') {
    loadExperiments().catch(report);
  } else if (type === 'gap') {
    // Events were missed beyond the server's memory: reload what is shown.
    reloadAll();
    if (tab === 'jobs') loadJobs().catch(report);
  }
}

function start() {
  initAgents();
  initExperiments();
  initJobs();
  initResults();
  initBaselines(); // before initCompare: the detail's buttons in this order
  initCompare();
  initHistory();
  window.addEventListener('hashchange', showTab);
  const conn = $('#conn');
  let wasDown = false;
  openEvents('/api/v1/events', {
    onEvent: handleEvent,
    onState: (s, detail) => {
      conn.className = `conn ${s}`;
      conn.textContent = s === 'live' ? 'live' : 'reconnecting…';
      conn.title = detail || 'event stream connected';
      // After a drop the stream resumes from Last-Event-ID, but a restarted
      // server starts its ids again: reload to be sure.
      if (s === 'live' && wasDown) reloadAll();
      wasDown = s !== 'live';
    },
  });
  Promise.all([loadAgents(), loadExperiments(), loadBaselines()]).catch(report).finally(showTab);
}

start();
