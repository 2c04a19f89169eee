// The charts of an llm_generation result (docs/llm.md), shown in a job's
// detail: per stage of the run (c<N> for a concurrency level, r<R> for a
// request rate, `.` written `p`), the TTFT and the TPOT percentiles (p50,
// p90, p99, in ms, one line each) and the throughput (output tok/s as bars,
// req/s as a line on the right axis), drawn with uPlot, with a table of the
// same numbers so they can be read exactly.

import uPlot from '../vendor/uPlot.esm.js';
import { el, fmtNum } from './util.js';

const plots = new WeakMap(); // container -> uPlot instance
const STAGE = /^(c\d+|r\d+(?:p\d+)?)_ttft_p50_ms$/;
const PCTS = ['p50', 'p90', 'p99'];
const COLORS = ['#2f5fd0', '#a15c00', '#c0362c'];

// The stages of a result's metrics, in load order (concurrency levels
// ascending, then rates ascending): [{stage, kind: 'c'|'r', load}]. Empty
// when the metrics are not an llm_generation run's.
export function llmStages(metrics) {
  const out = [];
  for (const k of Object.keys(metrics || {})) {
    const m = STAGE.exec(k);
    if (!m) continue;
    const s = m[1];
    out.push({ stage: s, kind: s[0], load: Number(s.slice(1).replace('p', '.')) });
  }
  return out.sort((a, b) => (a.kind === b.kind ? a.load - b.load : a.kind === 'c' ? -1 : 1));
}

function num(metrics, key) {
  const v = metrics[key];
  return typeof v === 'number' && isFinite(v) ? v : null;
}

// What each chart draws: its title, y axes and series (metric suffix and
// label; scale 'y' on the left, 'y2' on the right).
const CHARTS = [
  { id: 'llm-ttft-chart', title: 'TTFT by stage (ms)', axes: ['ms'],
    series: PCTS.map((p, i) => ({ key: `ttft_${p}_ms`, label: `TTFT ${p}`, color: COLORS[i] })) },
  { id: 'llm-tpot-chart', title: 'TPOT by stage (ms)', axes: ['ms'],
    series: PCTS.map((p, i) => ({ key: `tpot_${p}_ms`, label: `TPOT ${p}`, color: COLORS[i] })) },
  { id: 'llm-throughput-chart', title: 'Throughput by stage', axes: ['tok/s', 'req/s'],
    series: [{ key: 'output_tok_per_s', label: 'output tok/s', color: '#2f5fd0', bars: true },
      { key: 'req_per_s', label: 'req/s', color: '#1a7f37', scale: 'y2' }] },
];

// The numbers one chart draws for stages: [xs, ...one array per series].
function chartData(spec, stages, metrics) {
  return [stages.map((_, i) => i), ...spec.series.map((s) => stages.map((st) => num(metrics, `${st.stage}_${s.key}`)))];
}

// The data a chart in box was drawn with (for tests): uPlot's arrays.
export function drawnData(box) {
  const u = plots.get(box);
  return u ? u.data.map((a) => [...a]) : null;
}

function draw(box, spec, stages, data) {
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue('--fg').trim() || '#1d2330';
  const line = css.getPropertyValue('--line').trim() || '#d9dde5';
  const names = stages.map((s) => s.stage);
  const xs = data[0];
  const axis = (o) => ({ stroke: fg, ticks: { stroke: line }, grid: { stroke: line }, ...o });
  const axes = [axis({ splits: () => xs, values: (u, splits) => splits.map((i) => names[i] ?? ''), grid: { show: false } }),
    axis({ label: spec.axes[0], size: 60 })];
  if (spec.axes[1]) axes.push(axis({ label: spec.axes[1], scale: 'y2', side: 1, size: 60, grid: { show: false } }));
  const range = (u, lo, hi) => [0, hi > 0 ? hi * 1.15 : 1];
  const opts = {
    width: Math.max(300, Math.floor(box.clientWidth || box.parentElement.clientWidth || 420) - 8), height: 220, title: spec.title,
    scales: { x: { time: false, range: [-0.5, Math.max(0.5, xs.length - 0.5)] }, y: { range }, y2: { range } },
    axes,
    series: [{ label: 'stage', value: (u, i) => (i == null ? '' : names[i] ?? '') },
      ...spec.series.map((s) => (s.bars
        // Bars, so a line on the other axis that rises in step stays visible.
        ? { label: s.label, stroke: s.color, fill: 'rgba(47,95,208,0.35)', width: 1, scale: s.scale || 'y',
          paths: uPlot.paths.bars({ size: [0.5, 60] }), points: { show: false } }
        : { label: s.label, stroke: s.color, width: 2, scale: s.scale || 'y', points: { show: true, size: 8, fill: s.color } }))],
  };
  const old = plots.get(box);
  if (old) old.destroy();
  box.replaceChildren();
  plots.set(box, new uPlot(opts, data, box));
  box.dataset.stages = names.join(',');
  box.dataset.points = String(xs.length);
}

// The charts and their table for a result, or null when it has no LLM
// stages. The charts are drawn once the returned element is in the page
// (uPlot measures its box): call the returned element's draw() then.
export function llmCharts(result) {
  const metrics = (result && result.metrics) || {};
  const stages = llmStages(metrics);
  if (!stages.length) return null;
  const boxes = CHARTS.map((c) => el('div', { id: c.id, class: 'chart llm-chart' }));
  const cols = CHARTS.flatMap((c) => c.series);
  const table = el('table', { id: 'llm-stage-table', class: 'grid small' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Stage'), cols.map((s) => el('th', {}, s.label)))),
    el('tbody', {}, stages.map((st) => el('tr', { dataset: { stage: st.stage } }, el('td', { class: 'mono' }, st.stage),
      cols.map((s) => el('td', { class: 'num', dataset: { metric: `${st.stage}_${s.key}` } },
        fmtNum(num(metrics, `${st.stage}_${s.key}`))))))));
  const box = el('div', { id: 'llm-charts', class: 'llm-charts' }, el('div', { class: 'charts' }, boxes), table);
  box.draw = () => CHARTS.forEach((c, i) => draw(boxes[i], c, stages, chartData(c, stages, metrics)));
  return box;
}
