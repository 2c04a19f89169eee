// Queue control (issue 11): the Jobs tab's priority column, multi-select
// and bulk Cancel / Pause / Resume / priority change, and the Agents tab's
// scheduling state with Pause / Resume / Drain. Every call goes through
// api.js (its token handling); a bulk action is one request per job, a few
// at a time, and its outcome (how many succeeded, which failed with the
// server's detail) is shown under the bar.

import { api, post, del } from './api.js';
import { $, el, badge, toast } from './util.js';
import { loadAgents } from './state.js';

export const PRIORITIES = ['low', 'medium', 'high', 'critical'];
const CHANGEABLE = new Set(['queued', 'paused']); // PATCH {priority} takes these
const PARALLEL = 8; // requests of a bulk action in flight at once

const selected = new Set(); // job ids ticked on the shown page
let ctx = { shown: () => [], reload: async () => {} };
let busy = false;

// While a bulk action runs, its jobs' events do not redraw their rows one by
// one (with a thousand rows each redraw costs a layout of the whole table and
// slows the action tenfold): the list is reloaded once at the end.
export const bulkRunning = () => busy;

// ---- Jobs tab: cells ----

export function selectCell(info) {
  return el('td', { class: 'select' }, el('input', {
    type: 'checkbox', 'aria-label': `select ${info.job_id}`, checked: selected.has(info.job_id),
    onchange: (e) => { if (e.target.checked) selected.add(info.job_id); else selected.delete(info.job_id); syncSelection(); },
  }));
}

// The job's priority; a select that changes it while the job waits.
export function priorityCell(info) {
  const p = info.priority || 'medium';
  const st = info.status && info.status.status;
  if (!CHANGEABLE.has(st)) return el('td', { class: 'job-priority' }, el('span', { class: `priority ${p}` }, p));
  const sel = el('select', { class: `priority ${p}`, 'aria-label': `priority of ${info.job_id}`,
    onchange: async () => {
      const r = await runBulk('Priority', [info.job_id], (id) => setPriority(id, sel.value));
      if (r.failed.length) sel.value = p;
    } }, PRIORITIES.map((x) => el('option', { value: x, selected: x === p }, x)));
  return el('td', { class: 'job-priority' }, sel);
}

// After the table was drawn: drop ticks of rows no longer shown, update the
// header box and the bar.
export function syncSelection() {
  const shown = new Set(ctx.shown().map((j) => j.job_id));
  for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
  for (const tr of document.querySelectorAll('#jobs-table tbody tr')) {
    const box = tr.querySelector('td.select input');
    if (box) box.checked = selected.has(tr.dataset.jobId);
  }
  const all = $('#jobs-select-all');
  if (all) {
    all.checked = shown.size > 0 && selected.size === shown.size;
    all.indeterminate = selected.size > 0 && selected.size < shown.size;
  }
  $('#bulk-count').textContent = `${selected.size} selected`;
  for (const b of document.querySelectorAll('#jobs-bulk button')) b.disabled = busy || selected.size === 0;
}

// ---- bulk actions ----

const enc = encodeURIComponent;
const setPriority = (id, priority) => api('PATCH', `/jobs/${enc(id)}`, { priority });
const ACTIONS = {
  Cancel: (id) => del(`/jobs/${enc(id)}`),
  Pause: (id) => post(`/jobs/${enc(id)}/pause`),
  Resume: (id) => post(`/jobs/${enc(id)}/resume`),
};

// Runs fn(id) for every id, PARALLEL at a time; shows and returns
// {ok: [ids], failed: [{id, status, detail}]}.
async function runBulk(name, ids, fn) {
  const out = { ok: [], failed: [] };
  const box = $('#bulk-result');
  busy = true;
  syncSelection();
  box.className = 'bulk-result';
  for (const k of ['action', 'ok', 'failed']) delete box.dataset[k]; // set again when done
  box.hidden = false;
  box.replaceChildren(`${name}: ${ids.length} job${ids.length === 1 ? '' : 's'}…`);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await fn(id);
        out.ok.push(id);
      } catch (e) {
        out.failed.push({ id, status: e.status || 0, detail: e.detail || String(e) });
      }
      done += 1;
      if (done % 50 === 0) box.firstChild.textContent = `${name}: ${done} of ${ids.length}…`;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, ids.length) }, worker));
  } finally {
    busy = false;
  }
  showResult(name, ids.length, out);
  await ctx.reload().catch((e) => toast(e.detail || String(e), true));
  syncSelection();
  return out;
}

function showResult(name, n, { ok, failed }) {
  const box = $('#bulk-result');
  box.className = `bulk-result ${failed.length ? 'bad' : 'good'}`;
  box.dataset.action = name.toLowerCase();
  box.dataset.ok = ok.length;
  box.dataset.failed = failed.length;
  box.replaceChildren(
    el('div', { class: 'bulk-summary' }, `${name}: ${ok.length} of ${n} succeeded`, failed.length ? `, ${failed.length} failed` : ''),
    failed.length ? el('ul', { class: 'bulk-failures' }, failed.slice(0, 20).map((f) => el('li', { dataset: { jobId: f.id } },
      el('span', { class: 'mono' }, f.id), ': ', el('span', { class: 'http' }, f.status ? String(f.status) : 'error'), ` ${f.detail}`)),
    failed.length > 20 ? el('li', { class: 'muted' }, `and ${failed.length - 20} more`) : null) : null,
    el('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', onclick: () => { box.hidden = true; } }, '✕'));
}

async function bulk(name) {
  const ids = ctx.shown().map((j) => j.job_id).filter((id) => selected.has(id));
  if (!ids.length) return;
  if (name === 'Cancel' && !confirm(`Cancel ${ids.length} job${ids.length === 1 ? '' : 's'}?`)) return;
  let fn = ACTIONS[name];
  if (name === 'Priority') {
    const p = $('#bulk-priority').value;
    fn = (id) => setPriority(id, p);
  }
  const { ok } = await runBulk(name, ids, fn);
  for (const id of ok) selected.delete(id); // the failed ones stay ticked
  syncSelection();
}

// shown(): the JobInfo rows the table shows; reload(): reloads the list.
export function initQueueActions({ shown, reload }) {
  ctx = { shown, reload };
  $('#jobs-select-all').addEventListener('change', (e) => {
    selected.clear();
    if (e.target.checked) for (const j of ctx.shown()) selected.add(j.job_id);
    for (const c of document.querySelectorAll('#jobs-table tbody td.select input')) c.checked = e.target.checked;
    syncSelection();
  });
  for (const b of document.querySelectorAll('#jobs-bulk button[data-action]')) {
    b.addEventListener('click', () => bulk(b.dataset.action));
  }
  syncSelection();
}

// ---- Agents tab ----

export function schedulingCell(a) {
  return el('td', { class: 'agent-scheduling' }, badge(a.scheduling || 'enabled'));
}

const agentName = (a) => (a.agent_name ? `${a.agent_name} (${a.agent_id})` : a.agent_id);

async function agentAction(a, action, body) {
  try {
    const r = await post(`/agents/${enc(a.agent_id)}/${action}`, body);
    toast(`${agentName(a)}: ${r.scheduling || action}`);
  } catch (e) {
    toast(`${agentName(a)}: ${e.status ? `${e.status} ` : ''}${e.detail || e}`, true);
  }
  await loadAgents().catch((e) => toast(e.detail || String(e), true));
}

// Asks the drain deadline (empty: running jobs finish) in #drain-dialog.
function drain(a) {
  const dlg = $('#drain-dialog');
  const form = $('#drain-form');
  $('#drain-agent').textContent = agentName(a);
  form.elements.deadline_s.value = '';
  dlg.onclose = () => {
    dlg.onclose = null;
    if (dlg.returnValue !== 'drain') return;
    const v = form.elements.deadline_s.value.trim();
    agentAction(a, 'drain', v === '' ? {} : { deadline_s: Number(v) });
  };
  dlg.returnValue = '';
  dlg.showModal();
}

// Pause / Resume / Drain, as fits the agent's scheduling.
export function agentActions(a) {
  const s = a.scheduling || 'enabled';
  return el('span', { class: 'agent-actions' },
    s === 'enabled' ? el('button', { class: 'agent-pause', onclick: () => agentAction(a, 'pause') }, 'Pause') : null,
    s !== 'enabled' ? el('button', { class: 'agent-resume', onclick: () => agentAction(a, 'resume') }, 'Resume') : null,
    s !== 'draining' ? el('button', { class: 'agent-drain', onclick: () => drain(a) }, 'Drain…') : null);
}
