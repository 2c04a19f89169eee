// Jobs tab: a live table (rows change in place from the event stream),
// filters, cursor paging, submit and cancel; and a job's detail dialog with
// its history, result, followed logs and artifacts download.

import { get, post, del, raw, query } from './api.js';
import { state, onChange, agentLabel, experimentLabel } from './state.js';
import { $, el, badge, fillSelect, fmtTime, fmtNum, fmtDuration, toast, download, jobLink, TERMINAL } from './util.js';
import { selectCell, priorityCell, syncSelection, initQueueActions, bulkRunning } from './queue-actions.js';
import { llmCharts } from './llm-charts.js';

const rows = new Map(); // job_id -> JobInfo shown in the table
let cursors = [''];     // cursors of the pages up to the shown one ('' = newest)
let nextCursor = null;
let total = 0;

function filters() {
  const f = $('#job-filters').elements;
  return { status: f.status.value, agent_id: f.agent_id.value, experiment_id: f.experiment_id.value, limit: Number(f.limit.value),
    priority: f.priority.value };
}

// GET /jobs has no priority filter: it applies to the page loaded.
function shown() {
  const p = filters().priority;
  return [...rows.values()].filter((j) => !p || (j.priority || 'medium') === p);
}

function matches(info, f) {
  return (!f.status || info.status.status === f.status) && (!f.agent_id || info.agent_id === f.agent_id)
    && (!f.experiment_id || info.experiment_id === f.experiment_id) && (!f.priority || (info.priority || 'medium') === f.priority);
}

// A job's progress as a fraction, or null: 0..1 by the protocol; a value
// above 1 is read as a percentage (0..100).
export function progressOf(st) {
  const p = st && st.progress;
  if (typeof p !== 'number' || !isFinite(p)) return null;
  return Math.min(1, Math.max(0, p > 1 ? p / 100 : p));
}

const percent = (f) => `${Math.round(f * 100)}%`;

function progressCell(st) {
  if (st.status === 'completed') return el('progress', { value: 1, max: 1 });
  const f = progressOf(st);
  if (f !== null) return el('span', { class: 'progress' }, el('progress', { value: f, max: 1 }), el('span', {}, percent(f)));
  return st.status === 'running' ? el('progress', {}) : '';
}

function jobRow(info) {
  const st = info.status || {};
  return el('tr', { dataset: { jobId: info.job_id, status: st.status } },
    selectCell(info),
    el('td', { class: 'id' }, jobLink(info.job_id, showJob)),
    el('td', { title: info.experiment_id }, experimentLabel(info.experiment_id)),
    el('td', { class: 'mono' }, agentLabel(info.agent_id)),
    priorityCell(info),
    el('td', { class: 'job-status' }, badge(st.status)),
    el('td', { class: 'job-progress' }, progressCell(st)),
    el('td', { class: 'job-message' }, st.message || ''),
    el('td', { class: 'job-created' }, fmtTime(info.created_time)),
    el('td', {}, fmtTime(st.timestamp)),
    el('td', {}, TERMINAL.has(st.status) ? '' : el('button', { class: 'danger cancel', onclick: () => cancel(info.job_id) }, 'Cancel')));
}

function renderTable() {
  const tbody = $('#jobs-table tbody');
  const list = shown().sort((a, b) => (b.created_time || '').localeCompare(a.created_time || '') || b.job_id.localeCompare(a.job_id));
  tbody.replaceChildren(...list.map(jobRow));
  $('#jobs-empty').hidden = list.length > 0;
  const first = (cursors.length - 1) * filters().limit;
  const f = filters();
  $('#jobs-count').textContent = f.priority ? `${list.length} ${f.priority} among ${first + 1}–${first + rows.size} of ${total}`
    : list.length ? `${first + 1}–${first + list.length} of ${total}` : `0 of ${total}`;
  $('#jobs-newer').disabled = cursors.length <= 1;
  $('#jobs-older').disabled = !nextCursor;
  syncSelection();
}

// New jobs arriving in a burst (a 1,000-job batch sends 1,000 events) are
// drawn once a frame, not once each.
let renderPending = false;
function renderSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => { renderPending = false; renderTable(); });
}

export async function loadJobs() {
  const f = filters();
  delete f.priority;
  const cursor = cursors[cursors.length - 1];
  const r = await get(`/jobs${query({ ...f, cursor })}`);
  rows.clear();
  for (const list of Object.values(r.jobs || {})) for (const j of list) rows.set(j.job_id, j);
  nextCursor = r.next_cursor || null;
  total = r.total ?? rows.size;
  renderTable();
}

// Whether status b is older than a: the answer to a POST can arrive after
// the events of what happened next, and must not undo them. RFC 3339
// timestamps of one server compare as strings (same format, UTC).
function stale(a, b) {
  if (TERMINAL.has(a.status) && !TERMINAL.has(b.status)) return true;
  return (b.timestamp || '') < (a.timestamp || '');
}

// A job event: update its row in place, or add a new job on the first page.
export function onJobEvent(info) {
  if (!info || !info.job_id || !info.status) return;
  const f = filters();
  const known = rows.has(info.job_id);
  if (known && stale(rows.get(info.job_id).status, info.status)) return;
  if (known) {
    rows.set(info.job_id, info);
    const tr = !bulkRunning() && $(`#jobs-table tr[data-job-id="${CSS.escape(info.job_id)}"]`);
    if (tr) tr.replaceWith(jobRow(info));
  } else if (cursors.length === 1 && matches(info, f)) {
    rows.set(info.job_id, info);
    total += 1;
    if (rows.size > f.limit) {
      const oldest = [...rows.values()].sort((a, b) => a.created_time.localeCompare(b.created_time))[0];
      rows.delete(oldest.job_id);
      nextCursor = nextCursor || 'more';
    }
    renderSoon();
  }
  if (current && current.job_id === info.job_id) {
    current.info = { ...current.info, status: info.status };
    refreshDetail();
  }
}

async function cancel(id) {
  try {
    const r = await del(`/jobs/${encodeURIComponent(id)}`);
    toast(r.httpStatus === 202 ? `${id}: being stopped` : `${id}: ${r.status.status}`);
  } catch (e) {
    toast(`${id}: ${e.detail || e}`, true);
  }
}

// ---- detail dialog ----

let current = null; // {job_id, info (with history), offsets, gen}
const resultHooks = []; // fn(result, bar): actions on a shown result (baselines.js, compare.js)

// fn(result, bar) runs when the detail shows a job's result: it may add
// buttons to bar (emptied for each job).
export function onResultShown(fn) {
  resultHooks.push(fn);
}

// Runs the hooks again for the result shown (a baseline was pinned).
export function refreshResultActions() {
  if (current && current.result) showActions(current.result);
}

function showActions(result) {
  const bar = $('#job-result-actions');
  bar.replaceChildren();
  for (const fn of resultHooks) fn(result, bar);
}

function metricsTable(result) {
  const names = Object.keys(result.metrics || {}).sort();
  const stats = result.metric_statistics || {};
  return el('table', { class: 'grid small' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Metric'), el('th', {}, 'Value'), el('th', {}, 'Std'), el('th', {}, 'Min'), el('th', {}, 'Max'))),
    el('tbody', {}, names.map((n) => el('tr', {},
      el('td', { class: 'mono' }, n), el('td', { class: 'num' }, fmtNum(result.metrics[n])),
      el('td', { class: 'num' }, fmtNum(stats[n] && stats[n].std)), el('td', { class: 'num' }, fmtNum(stats[n] && stats[n].min)),
      el('td', { class: 'num' }, fmtNum(stats[n] && stats[n].max))))));
}

async function loadResult() {
  const box = $('#job-result');
  const st = current.info.status.status;
  if (!TERMINAL.has(st) || st === 'cancelled') {
    box.replaceChildren(el('span', { class: 'muted' }, st === 'cancelled' ? 'cancelled: no result' : 'not finished yet'));
    return;
  }
  try {
    const id = current.job_id;
    const { result } = await get(`/results/${encodeURIComponent(id)}`);
    if (!current || current.job_id !== id) return;
    current.result = result;
    showActions(result);
    const llm = llmCharts(result); // an llm_generation run's stages, charted
    box.replaceChildren(
      el('p', {}, `${result.status}, ${fmtDuration(result.duration_seconds)}`, result.error ? el('span', { class: 'error' }, ` — ${result.error}`) : ''),
      llm || '', metricsTable(result));
    if (llm) llm.draw();
  } catch (e) {
    box.replaceChildren(el('span', { class: 'muted' }, e.detail || String(e)));
  }
}

function refreshDetail() {
  const i = current.info;
  const st = i.status || {};
  $('#job-title').textContent = `Job ${i.job_id}`;
  $('#job-info').replaceChildren(...[
    ['Experiment', `${experimentLabel(i.experiment_id)} (${i.experiment_id})`], ['Agent', agentLabel(i.agent_id)],
    ['Status', badge(st.status)], ['Progress', progressCell(st)], ['Message', st.message || ''],
    ['Created', fmtTime(i.created_time)], ['Updated', fmtTime(st.timestamp)],
  ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', { class: `job-${k.toLowerCase()}` }, v)]));
  $('#job-cancel').disabled = TERMINAL.has(st.status);
  const hist = i.history || [];
  const last = hist[hist.length - 1];
  if (!last || last.status !== st.status) hist.push(st);
  i.history = hist;
  $('#job-history tbody').replaceChildren(...hist.map((h) => el('tr', {},
    el('td', {}, fmtTime(h.timestamp)), el('td', {}, badge(h.status)),
    el('td', {}, progressOf(h) === null ? '' : percent(progressOf(h))), el('td', {}, h.message || ''))));
  if (TERMINAL.has(st.status) && !current.resultLoaded) {
    current.resultLoaded = true;
    loadResult();
  }
}

// Follows the log of the chosen stream: fetches from the byte offset
// reached so far, once a second, until the job is over and nothing new came.
async function followLogs(gen) {
  const pre = $('#job-logs');
  const state_ = $('#job-log-state');
  const stream = $('#job-log-stream').value;
  const decoder = new TextDecoder();
  let offset = 0;
  pre.textContent = '';
  while (current && current.gen === gen) {
    const done = TERMINAL.has(current.info.status.status);
    let got = 0;
    try {
      const r = await raw('GET', `/jobs/${encodeURIComponent(current.job_id)}/logs${query({ stream, offset })}`);
      if (current.gen !== gen) return;
      if (r.ok) {
        const bytes = new Uint8Array(await r.arrayBuffer());
        got = bytes.length;
        offset += got;
        pre.textContent += decoder.decode(bytes, { stream: true });
        if (got) pre.scrollTop = pre.scrollHeight;
        state_.textContent = done ? '' : 'following…';
      } else {
        const t = await r.text();
        let d = t;
        try { d = JSON.parse(t).detail; } catch { /* plain text */ }
        state_.textContent = `(${r.status}: ${d})`;
      }
    } catch (e) {
      state_.textContent = `(${e.message})`;
    }
    if (done && got === 0) {
      state_.textContent = offset ? '' : '(empty)';
      return;
    }
    if (!got || done) await new Promise((res) => setTimeout(res, done ? 0 : 1000));
  }
}

export async function showJob(id) {
  const dlg = $('#job-dialog');
  $('#job-dialog [data-error]').textContent = '';
  try {
    const info = await get(`/jobs/${encodeURIComponent(id)}`);
    current = { job_id: id, info, gen: (current ? current.gen : 0) + 1, resultLoaded: false };
  } catch (e) {
    toast(e.detail || String(e), true);
    return;
  }
  $('#job-result').replaceChildren();
  $('#job-result-actions').replaceChildren();
  refreshDetail();
  if (!dlg.open) dlg.showModal();
  followLogs(current.gen);
}

function initDetail() {
  const dlg = $('#job-dialog');
  dlg.addEventListener('close', () => {
    // Opened from its address (#jobs/<id>): a reload should not reopen it.
    if (current && location.hash === `#jobs/${encodeURIComponent(current.job_id)}`) history.replaceState(null, '', '#jobs');
    current = null;
  });
  $('#job-log-stream').addEventListener('change', () => {
    if (!current) return;
    current.gen += 1;
    followLogs(current.gen);
  });
  $('#job-cancel').addEventListener('click', () => current && cancel(current.job_id));
  $('#job-artifacts').addEventListener('click', async () => {
    if (!current) return;
    const err = $('#job-dialog [data-error]');
    err.textContent = '';
    const r = await raw('GET', `/jobs/${encodeURIComponent(current.job_id)}/artifacts`);
    if (!r.ok) {
      const t = await r.text();
      try { err.textContent = JSON.parse(t).detail; } catch { err.textContent = t || `${r.status}`; }
      return;
    }
    download(`${current.job_id}-artifacts.zip`, 'application/zip', await r.blob());
  });
}

// ---- setup ----

function fillChoices() {
  const exps = state.experiments.map((x) => [x.id, `${x.name} (${x.id})`]);
  const agents = state.agents.map((a) => [a.agent_id, a.agent_name ? `${a.agent_name} (${a.agent_id})` : a.agent_id]);
  const s = $('#job-submit').elements;
  fillSelect(s.experiment_id, exps);
  fillSelect(s.agent_id, agents);
  const f = $('#job-filters').elements;
  fillSelect(f.experiment_id, exps, { any: true });
  fillSelect(f.agent_id, agents, { any: true });
}

export function initJobs() {
  onChange(() => { fillChoices(); renderTable(); });
  initDetail();
  const submit = $('#job-submit');
  submit.addEventListener('submit', async (e) => {
    e.preventDefault();
    const err = $('[data-error]', submit);
    err.textContent = '';
    try {
      const info = await post('/jobs', { experiment_id: submit.elements.experiment_id.value, agent_id: submit.elements.agent_id.value });
      toast(`submitted ${info.job_id} (${info.status.status})`);
      onJobEvent(info);
    } catch (ex) {
      err.textContent = ex.detail || String(ex);
    }
  });
  const reload = () => loadJobs().catch((e) => toast(e.detail || String(e), true));
  initQueueActions({ shown, reload: loadJobs });
  $('#job-filters').addEventListener('change', () => { cursors = ['']; reload(); });
  $('#jobs-older').addEventListener('click', () => { if (nextCursor && nextCursor !== 'more') { cursors.push(nextCursor); reload(); } else if (nextCursor) { reload(); } });
  $('#jobs-newer').addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); reload(); } });
}

export function showJobs() {
  return loadJobs();
}
