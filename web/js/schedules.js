// Schedules (issue 12): the Schedules tab lists every recurring run with
// its cron, whether it is enabled, its next and last run and the outcome of
// its last firing (the statuses of its last_job_ids), with Run now, Pause /
// Resume and Delete. Job events reload it while it is shown, so a firing
// and its jobs' ends appear without polling.

import { get, post, del } from './api.js';
import { experimentLabel } from './state.js';
import { $, el, badge, fmtTime, jobLink, toast, TERMINAL } from './util.js';
import { showJob } from './jobs.js';

// Most last-run jobs whose status one reload reads (GET /jobs/{id} each).
const MAX_OUTCOME_JOBS = 200;

let schedules = [];
const jobStatus = new Map(); // job_id -> status, kept once terminal

function report(e) {
  toast(e.detail || e.message || String(e), true);
}

// "completed ×2 failed ×1", each as its badge, and the jobs as links.
function outcome(s) {
  const ids = s.last_job_ids || [];
  if (!s.last_run_at) return el('span', { class: 'muted' }, 'never run');
  if (!ids.length) return el('span', { class: 'error', title: s.last_error || '' }, s.last_error || 'no jobs');
  const counts = new Map();
  for (const id of ids) {
    const st = jobStatus.get(id) || 'unknown';
    counts.set(st, (counts.get(st) || 0) + 1);
  }
  return el('span', { class: 'outcome', dataset: { outcome: [...counts.keys()].sort().join(',') } },
    [...counts].map(([st, n]) => [badge(st), n > 1 ? ` ×${n} ` : ' ']),
    el('details', { class: 'inline' }, el('summary', {}, `${ids.length} job${ids.length > 1 ? 's' : ''}`),
      ids.map((id) => [jobLink(id, showJob), ' '])));
}

async function act(s, what) {
  const id = encodeURIComponent(s.schedule_id);
  try {
    if (what === 'run') {
      const r = await post(`/schedules/${id}/run`);
      toast(`${s.name}: ${r.jobs.length} job${r.jobs.length === 1 ? '' : 's'} started`);
    } else if (what === 'delete') {
      if (!confirm(`Delete schedule ${s.name}? Its jobs stay.`)) return;
      await del(`/schedules/${id}`);
      toast(`deleted schedule ${s.name}`);
    } else {
      await post(`/schedules/${id}/${what}`);
      toast(`${what === 'pause' ? 'paused' : 'resumed'} schedule ${s.name}`);
    }
  } catch (e) {
    report(e);
  }
  await loadSchedules().catch(report);
}

function render() {
  const tbody = $('#schedules-table tbody');
  tbody.replaceChildren(...schedules.map((s) => el('tr', { dataset: { scheduleId: s.schedule_id, enabled: String(!!s.enabled) } },
    el('td', { class: 'name' }, s.name),
    el('td', { class: 'mono cron' }, s.cron),
    el('td', { title: s.experiment_id }, experimentLabel(s.experiment_id)),
    el('td', { class: 'enabled' }, s.enabled ? 'yes' : el('span', { class: 'status paused' }, 'paused')),
    el('td', { class: 'next' }, s.enabled ? fmtTime(s.next_run_at) : ''),
    el('td', { class: 'last' }, fmtTime(s.last_run_at)),
    el('td', { class: 'last-outcome' }, outcome(s)),
    el('td', { class: 'actions' },
      el('button', { class: 'run', onclick: () => act(s, 'run') }, 'Run now'),
      el('button', { class: s.enabled ? 'pause' : 'resume', onclick: () => act(s, s.enabled ? 'pause' : 'resume') },
        s.enabled ? 'Pause' : 'Resume'),
      el('button', { class: 'danger delete', onclick: () => act(s, 'delete') }, 'Delete')))));
  $('#schedules-empty').hidden = schedules.length > 0;
  $('#schedules-table').hidden = schedules.length === 0;
}

export async function loadSchedules() {
  const r = await get('/schedules');
  schedules = (r.schedules || []).sort((a, b) => a.name.localeCompare(b.name) || a.schedule_id.localeCompare(b.schedule_id));
  // The last runs' statuses: only those not known to be final yet.
  const want = [];
  for (const s of schedules) for (const id of s.last_job_ids || []) {
    if (!TERMINAL.has(jobStatus.get(id)) && want.length < MAX_OUTCOME_JOBS) want.push(id);
  }
  await Promise.all(want.map(async (id) => {
    try {
      jobStatus.set(id, (await get(`/jobs/${encodeURIComponent(id)}`)).status.status);
    } catch {
      jobStatus.set(id, 'unknown');
    }
  }));
  render();
}

export const showSchedules = loadSchedules;

// A job event of a job we show: its status is known at once.
export function onScheduleJobEvent(job) {
  if (job && job.schedule_id && job.status) jobStatus.set(job.job_id, job.status.status);
}
