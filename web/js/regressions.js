// Regressions: the server's `event: regression` (a new result slower than
// its pinned baseline) as a notice under the header, on every tab, linking
// to the job and to the comparison; the history chart marks the job too.

import { agentLabel, experimentLabel } from './state.js';
import { $, el, jobLink } from './util.js';
import { showJob } from './jobs.js';
import { openCompare } from './compare.js';

const notices = new Map(); // job_id -> the event's data, newest last
const listeners = new Set();

export function onRegressions(fn) {
  listeners.add(fn);
}

// Job ids an event called a regression (kept after the notice is closed).
const seen = new Set();
export function regressionJobs() {
  return seen;
}

// " (+10.1 %)": a metric's change from the event's comparison, if it has it.
function change(cmp, m) {
  const c = cmp && cmp[m];
  if (!c || typeof c.diff !== 'number' || typeof c.a_mean !== 'number' || !c.a_mean) return '';
  const v = (c.diff / Math.abs(c.a_mean)) * 100;
  return ` (${v > 0 ? '+' : ''}${v.toFixed(1)} %)`;
}

function render() {
  const box = $('#regressions');
  box.replaceChildren(...[...notices.values()].reverse().map((r) => el('div', { class: 'notice bad', dataset: { jobId: r.job_id } },
    el('strong', {}, 'Regression: '),
    jobLink(r.job_id, showJob),
    ` (${experimentLabel(r.experiment_id)} on ${agentLabel(r.agent_id)}) is slower than its baseline `,
    jobLink(r.baseline_job_id, showJob),
    (r.metrics || []).length ? ` in ${r.metrics.map((m) => `${m}${change(r.comparison, m)}`).join(', ')}` : '',
    ' ',
    el('button', { type: 'button', class: 'compare', onclick: () => openCompare(r.baseline_job_id, r.job_id) }, 'Compare'),
    el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', title: 'Dismiss',
      onclick: () => { notices.delete(r.job_id); render(); } }, '✕'))));
  box.hidden = notices.size === 0;
}

// One `event: regression` {job_id, baseline_job_id, experiment_id,
// agent_id, metrics: [names], comparison}.
export function onRegressionEvent(data) {
  if (!data || !data.job_id) return;
  notices.delete(data.job_id);
  notices.set(data.job_id, data);
  seen.add(data.job_id);
  render();
  for (const fn of listeners) fn(data);
}
