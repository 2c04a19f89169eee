// The Compare dialog: two selectors (a job id, `experiment:agent` for that
// pair's latest result, or `experiment:agent:N` for its last N) and the
// table of GET /compare: per metric both means, the change in % with its
// 95 % confidence interval, Welch's p and the verdict, coloured.

import { get, query } from './api.js';
import { agentLabel, experimentLabel } from './state.js';
import { $, el, fmtNum } from './util.js';
import { onResultShown } from './jobs.js';
import { onResults } from './results.js';
import { onBaselines, baselineFor } from './baselines.js';

let results = [];
let baselines = [];
let gen = 0;

// "+9.81 %" of a fraction; blank for null.
function pct(f, sign = true) {
  if (typeof f !== 'number' || !isFinite(f)) return '';
  const v = f * 100;
  const s = Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${sign && v > 0 ? '+' : ''}${s} %`;
}

function pText(p) {
  if (typeof p !== 'number') return '';
  if (p === 0) return '< 1e-300'; // below what a double holds
  return p < 1e-4 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

function side(mean, std, n) {
  return [fmtNum(mean), typeof std === 'number' && n > 1 ? el('span', { class: 'muted' }, ` ± ${fmtNum(std)}`) : '',
    el('span', { class: 'muted' }, ` (n ${n ?? '?'})`)];
}

function sideLabel(s) {
  return s && s.job_ids ? `${s.selector}${s.job_ids.length > 1 || s.job_ids[0] !== s.selector ? ` → ${s.job_ids.join(', ')}` : ''}` : '';
}

export function renderCompare(answer) {
  const names = Object.keys(answer.metrics || {}).sort();
  $('#compare-sides').textContent = `A: ${sideLabel(answer.a)} · B: ${sideLabel(answer.b)} · min_delta ${pct(answer.min_delta, false)}`;
  $('#cmp-table tbody').replaceChildren(...names.map((name) => {
    const m = answer.metrics[name];
    const change = typeof m.a_mean === 'number' && m.a_mean !== 0 && typeof m.diff === 'number' ? m.diff / Math.abs(m.a_mean) : null;
    const ci = typeof m.ci95_low === 'number' && m.a_mean ? `[${pct(m.ci95_low / Math.abs(m.a_mean))}, ${pct(m.ci95_high / Math.abs(m.a_mean))}]` : '';
    const dir = m.higher_is_better === true ? 'higher is better' : m.higher_is_better === false ? 'lower is better' : 'better direction unknown';
    return el('tr', { dataset: { metric: name, verdict: m.verdict } },
      el('td', { class: 'mono', title: dir }, name),
      el('td', { class: 'num' }, side(m.a_mean, m.a_std, m.a_n)),
      el('td', { class: 'num' }, side(m.b_mean, m.b_std, m.b_n)),
      el('td', { class: 'num change' }, pct(change)),
      el('td', { class: 'num ci' }, ci),
      el('td', { class: 'num p' }, pText(m.p_value)),
      el('td', {}, el('span', { class: `verdict ${m.verdict}` }, m.verdict)));
  }));
  $('#cmp-empty').hidden = names.length > 0;
}

async function run() {
  const f = $('#cmp-form').elements;
  const err = $('#compare-dialog [data-error]');
  err.textContent = '';
  const a = f.a.value.trim(), b = f.b.value.trim();
  if (!a || !b) { err.textContent = 'Pick both A and B.'; return; }
  const my = ++gen;
  try {
    const answer = await get(`/compare${query({ a, b, metric: f.metric.value.trim(), min_delta: f.min_delta.value ? Number(f.min_delta.value) / 100 : '' })}`);
    if (my === gen) renderCompare(answer);
  } catch (e) {
    if (my !== gen) return;
    $('#cmp-table tbody').replaceChildren();
    $('#compare-sides').textContent = '';
    err.textContent = e.detail || String(e);
  }
}

// Suggestions: the baselines first, then every completed result loaded.
function fillChoices() {
  const opts = [
    ...baselines.map((x) => [x.job_id, `baseline: ${experimentLabel(x.experiment_id)} on ${agentLabel(x.agent_id)}`]),
    ...results.filter((r) => r.status === 'completed').map((r) => [r.job_id, `${experimentLabel(r.experiment_id)} on ${agentLabel(r.agent_id)}`]),
  ];
  $('#cmp-jobs').replaceChildren(...opts.map(([v, label]) => el('option', { value: v, label })));
}

// Opens the dialog with A and B (either may be blank) and compares when
// both are given.
export function openCompare(a = '', b = '') {
  const f = $('#cmp-form').elements;
  f.a.value = a;
  f.b.value = b;
  $('#cmp-table tbody').replaceChildren();
  $('#compare-sides').textContent = '';
  $('#cmp-empty').hidden = true;
  $('#compare-dialog [data-error]').textContent = '';
  const dlg = $('#compare-dialog');
  if (!dlg.open) dlg.showModal();
  if (a && b) return run();
  return Promise.resolve();
}

export function initCompare() {
  onResults((list) => { results = list; fillChoices(); });
  onBaselines((list) => { baselines = list; fillChoices(); });
  $('#cmp-form').addEventListener('submit', (e) => { e.preventDefault(); run(); });
  $('#cmp-swap').addEventListener('click', () => {
    const f = $('#cmp-form').elements;
    [f.a.value, f.b.value] = [f.b.value, f.a.value];
    run();
  });
  $('#open-compare').addEventListener('click', () => openCompare());
  // On a job's detail: against its baseline, or anything.
  onResultShown((result, bar) => {
    if (result.status !== 'completed') return;
    const b = result.agent_id && baselineFor(result.experiment_id, result.agent_id);
    if (b && b.job_id !== result.job_id) {
      bar.append(el('button', { id: 'compare-baseline', onclick: () => openCompare(b.job_id, result.job_id) }, 'Compare with baseline'));
    }
    bar.append(el('button', { class: 'compare-any', onclick: () => openCompare(b && b.job_id !== result.job_id ? b.job_id : '', result.job_id) }, 'Compare…'));
  });
}
