// The two charts of the Results tab, drawn with uPlot (vendored in
// web/vendor from the npm package), each with a table of the same numbers
// beside it so the values can be read exactly.

import uPlot from '../vendor/uPlot.esm.js';
import { el, fmtNum } from './util.js';

const plots = new WeakMap(); // container -> uPlot instance

function width(box) {
  return Math.max(320, Math.floor(box.clientWidth || box.parentElement.clientWidth || 480) - 8);
}

// The page's colors (light or dark, style.css) for the axes' text and grid.
function axis(opts) {
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--fg').trim() || '#1d2330';
  const line = css.getPropertyValue('--line').trim() || '#d9dde5';
  return { stroke: fg, ticks: { stroke: line }, ...opts, grid: { stroke: line, ...(opts.grid || {}) } };
}

function draw(box, opts, data) {
  opts.axes = opts.axes.map(axis);
  const old = plots.get(box);
  if (old) old.destroy();
  box.replaceChildren();
  plots.set(box, new uPlot(opts, data, box));
}

function clear(box, msg) {
  const old = plots.get(box);
  if (old) old.destroy();
  plots.delete(box);
  box.replaceChildren(el('p', { class: 'muted' }, msg));
}

function stats(values) {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  return { n, mean, min: Math.min(...values), max: Math.max(...values) };
}

// One metric across agents for one experiment: the mean per agent as bars,
// with the min and max of its jobs as points.
export function drawCompare(box, tbody, results, metric, label) {
  const byAgent = new Map();
  for (const r of results) {
    const v = (r.metrics || {})[metric];
    if (typeof v !== 'number') continue;
    if (!byAgent.has(r.agent_id)) byAgent.set(r.agent_id, []);
    byAgent.get(r.agent_id).push(v);
  }
  const agents = [...byAgent.keys()].sort();
  const rows = agents.map((a) => ({ agent: a, ...stats(byAgent.get(a)) }));
  tbody.replaceChildren(...rows.map((r) => el('tr', { dataset: { agentId: r.agent } },
    el('td', { class: 'mono' }, label(r.agent)), el('td', { class: 'num' }, r.n),
    el('td', { class: 'num compare-mean' }, fmtNum(r.mean)), el('td', { class: 'num' }, fmtNum(r.min)),
    el('td', { class: 'num' }, fmtNum(r.max)))));
  if (!rows.length) {
    clear(box, metric ? 'No completed result with this metric.' : 'No completed result with a numeric metric yet.');
    return;
  }
  const xs = rows.map((_, i) => i);
  const names = rows.map((r) => label(r.agent));
  const opts = {
    width: width(box), height: 260, title: metric,
    scales: { x: { time: false, range: [-0.6, rows.length - 0.4] }, y: { range: (u, lo, hi) => [Math.min(0, lo), hi * 1.1 || 1] } },
    axes: [
      { splits: () => xs, values: (u, splits) => splits.map((i) => names[i] ?? ''), grid: { show: false } },
      { label: metric, size: 60 },
    ],
    series: [
      { label: 'agent', value: (u, i) => (i == null ? '' : names[i] ?? '') },
      { label: 'mean', fill: 'rgba(47,95,208,0.35)', stroke: '#2f5fd0', width: 1,
        paths: uPlot.paths.bars({ size: [0.5, 80] }), points: { show: false } },
      { label: 'min', stroke: '#667085', paths: () => null, points: { show: true, size: 7, fill: '#667085' } },
      { label: 'max', stroke: '#c0362c', paths: () => null, points: { show: true, size: 7, fill: '#c0362c' } },
    ],
  };
  draw(box, opts, [xs, rows.map((r) => r.mean), rows.map((r) => r.min), rows.map((r) => r.max)]);
}

// The runs of one multi-run job: each run's value (the first, cold one
// apart), the warm runs' mean, and mean ± std as a band.
export function drawSpread(box, tbody, job, metric) {
  tbody.replaceChildren();
  if (!job) {
    clear(box, 'No multi-run job (task.params.runs_per_job > 1) in these results.');
    return;
  }
  const runs = job.runs.map((r, i) => ({ i: i + 1, cold: !!r.is_cold_start, v: (r.metrics || {})[metric] }));
  const st = (job.metric_statistics || {})[metric];
  if (st) {
    tbody.append(el('tr', {}, [st.mean, st.std, st.min, st.median, st.max].map((v) => el('td', { class: 'num' }, fmtNum(v))),
      el('td', { class: 'num' }, st.count), el('td', {}, (st.outliers || []).map(fmtNum).join(', '))));
  }
  if (!runs.some((r) => typeof r.v === 'number')) {
    clear(box, 'This metric has no numeric value in the runs.');
    return;
  }
  const xs = runs.map((r) => r.i);
  const num = (v) => (typeof v === 'number' ? v : null);
  const mean = st ? xs.map(() => st.mean) : xs.map(() => null);
  const opts = {
    width: width(box), height: 260, title: `${metric}, ${job.job_id}`,
    scales: { x: { time: false } },
    axes: [{ label: 'run', incrs: [1, 2, 5, 10, 20, 50] }, { label: metric, size: 60 }],
    series: [
      { label: 'run' },
      { label: 'warm run', stroke: '#2f5fd0', paths: () => null, points: { show: true, size: 8, fill: '#2f5fd0' } },
      { label: 'cold start', stroke: '#a15c00', paths: () => null, points: { show: true, size: 9, fill: '#a15c00' } },
      { label: 'warm mean', stroke: '#1a7f37', dash: [6, 4], points: { show: false } },
      { label: 'mean − std', stroke: '#9bbf9f', points: { show: false } },
      { label: 'mean + std', stroke: '#9bbf9f', points: { show: false } },
    ],
    bands: st ? [{ series: [5, 4], fill: 'rgba(26,127,55,0.08)' }] : [],
  };
  draw(box, opts, [xs, runs.map((r) => (r.cold ? null : num(r.v))), runs.map((r) => (r.cold ? num(r.v) : null)), mean,
    st ? xs.map(() => st.mean - st.std) : mean, st ? xs.map(() => st.mean + st.std) : mean]);
}
