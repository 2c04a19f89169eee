// Results tab: two charts (charts.js) first, then one row per job with
// every metric as a column, sorted over all rows and shown a page at a
// time, exported client-side as CSV or JSON (all rows, the columns of
// `ruckus result export`).

import { getAll } from './api.js';
import { state, onChange, agentLabel, experimentLabel } from './state.js';
import { $, el, badge, fillSelect, fmtTime, fmtNum, fmtDuration, download } from './util.js';
import { drawCompare, drawSpread } from './charts.js';
import { declaredMetrics, orderMetrics, defaultMetric } from './metrics.js';

const FIXED = ['job_id', 'experiment_id', 'agent_id', 'status', 'started_at', 'completed_at', 'duration_seconds', 'error'];
let results = [];
let sortKey = 'completed_at';
let sortDir = 'desc';
const PAGE = 50;
let page = 0;               // shown page of the sorted rows
const picked = {};          // chart -> metric chosen by hand, kept while it exists
const listeners = new Set(); // fn(results) after each load (history.js, compare.js)

// fn(results) runs after the results were (re)loaded.
export function onResults(fn) {
  listeners.add(fn);
}

export function metricNames(list) {
  const names = new Set();
  for (const r of list) for (const k of Object.keys(r.metrics || {})) names.add(k);
  return [...names].sort();
}

function value(r, key) {
  return key.startsWith('m:') ? (r.metrics || {})[key.slice(2)] : r[key];
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === undefined || a === null) return 1; // blanks last either way
  if (b === undefined || b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

function renderTable() {
  const metrics = metricNames(results);
  const cols = [['job_id', 'Job'], ['experiment_id', 'Experiment'], ['agent_id', 'Agent'], ['status', 'Status'],
    ['completed_at', 'Completed'], ['duration_seconds', 'Duration'], ...metrics.map((m) => [`m:${m}`, m])];
  const table = $('#results-table');
  $('thead', table).replaceChildren(el('tr', {}, cols.map(([k, label]) => el('th', {
    dataset: { key: k }, 'data-dir': k === sortKey ? sortDir : null,
    onclick: () => { sortDir = sortKey === k && sortDir === 'asc' ? 'desc' : 'asc'; sortKey = k; page = 0; renderTable(); },
  }, label))));
  const sorted = [...results].sort((a, b) => {
    const c = compare(value(a, sortKey), value(b, sortKey));
    return sortDir === 'asc' ? c : (value(a, sortKey) == null || value(b, sortKey) == null ? c : -c);
  });
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE));
  page = Math.min(page, pages - 1);
  const shown = sorted.slice(page * PAGE, (page + 1) * PAGE);
  $('#results-count').textContent = sorted.length ? `${page * PAGE + 1}–${page * PAGE + shown.length} of ${sorted.length}` : '';
  $('#results-prev').disabled = page === 0;
  $('#results-next').disabled = page >= pages - 1;
  $('#results-pager').hidden = sorted.length <= PAGE;
  $('tbody', table).replaceChildren(...shown.map((r) => el('tr', { dataset: { jobId: r.job_id } },
    el('td', { class: 'id' }, r.job_id),
    el('td', { title: r.experiment_id }, experimentLabel(r.experiment_id)),
    el('td', { class: 'mono' }, agentLabel(r.agent_id)),
    el('td', { title: r.error || '' }, badge(r.status)),
    el('td', {}, fmtTime(r.completed_at)),
    el('td', { class: 'num' }, fmtDuration(r.duration_seconds)),
    metrics.map((m) => el('td', { class: 'num', dataset: { metric: m } }, fmtNum((r.metrics || {})[m]))))));
  $('#results-empty').hidden = results.length > 0;
}

// ---- export ----

function rowsForExport() {
  const metrics = metricNames(results);
  return { metrics, rows: results.map((r) => {
    const o = {};
    for (const k of FIXED) o[k] = r[k] ?? null;
    for (const m of metrics) o[m] = (r.metrics || {})[m] ?? null;
    return o;
  }) };
}

function csvCell(v) {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv() {
  const { metrics, rows } = rowsForExport();
  const cols = [...FIXED, ...metrics];
  return [cols.join(','), ...rows.map((o) => cols.map((c) => csvCell(o[c])).join(','))].join('\n') + '\n';
}

// ---- charts ----

function chartChoices() {
  const cf = $('#compare-form').elements;
  const exps = [...new Set(results.map((r) => r.experiment_id))].map((id) => [id, experimentLabel(id)]);
  fillSelect(cf.experiment_id, exps);
  const forExp = results.filter((r) => r.experiment_id === cf.experiment_id.value && r.status === 'completed');
  const declared = declaredMetrics(state.experiments.find((x) => x.id === cf.experiment_id.value));
  chooseMetric('compare', cf.metric, metricNames(forExp).filter((m) => forExp.some((r) => typeof r.metrics[m] === 'number')), declared);
  drawCompare($('#compare-chart'), $('#compare-table tbody'), forExp, cf.metric.value, agentLabel);

  const sf = $('#spread-form').elements;
  const multi = results.filter((r) => Array.isArray(r.runs) && r.runs.length > 1);
  fillSelect(sf.job_id, multi.map((r) => [r.job_id, `${r.job_id} (${experimentLabel(r.experiment_id)}, ${r.runs.length} runs)`]));
  const job = multi.find((r) => r.job_id === sf.job_id.value);
  const runMetrics = job ? metricNames(job.runs).filter((m) => job.runs.some((x) => typeof (x.metrics || {})[m] === 'number')) : [];
  chooseMetric('spread', sf.metric, runMetrics, declaredMetrics(job && state.experiments.find((x) => x.id === job.experiment_id)));
  drawSpread($('#spread-chart'), $('#spread-table tbody'), job, sf.metric.value);
}

// Offers the metrics, declared first; selects the one picked by hand if it
// is there, else the default (metrics.js).
export function chooseMetric(chart, sel, names, declared) {
  const ordered = orderMetrics(names, declared);
  fillSelect(sel, ordered);
  sel.value = ordered.includes(picked[chart]) ? picked[chart] : (defaultMetric(ordered, declared) ?? '');
}

export async function loadResults() {
  const f = $('#results-filters').elements;
  results = await getAll('/results', { experiment_id: f.experiment_id.value, agent_id: f.agent_id.value }, 'results');
  renderTable();
  chartChoices();
  for (const fn of listeners) fn(results);
}

export function initResults() {
  onChange(() => {
    const f = $('#results-filters').elements;
    fillSelect(f.experiment_id, state.experiments.map((x) => [x.id, `${x.name} (${x.id})`]), { any: true });
    fillSelect(f.agent_id, state.agents.map((a) => [a.agent_id, agentLabel(a.agent_id)]), { any: true });
  });
  $('#results-filters').addEventListener('change', () => { page = 0; loadResults(); });
  for (const [chart, form] of [['compare', '#compare-form'], ['spread', '#spread-form'], ['history', '#history-form']]) {
    $(`${form} select[name=metric]`).addEventListener('change', (e) => { picked[chart] = e.target.value; });
    if (chart !== 'history') $(form).addEventListener('change', chartChoices);
  }
  $('#results-prev').addEventListener('click', () => { page -= 1; renderTable(); });
  $('#results-next').addEventListener('click', () => { page += 1; renderTable(); });
  $('#export-csv').addEventListener('click', () => download('ruckus-results.csv', 'text/csv', toCsv()));
  $('#export-json').addEventListener('click', () => download('ruckus-results.json', 'application/json',
    JSON.stringify(rowsForExport().rows, null, 2)));
  window.addEventListener('resize', () => chartChoices());
}

export function showResults() {
  return loadResults();
}
