// The history chart (GET /results/history) drawn with uPlot: one line per
// agent (mean of each result over completed time), its ±std as a band
// where a result has more than one run, the agent's pinned baseline as a
// ring and results slower than the baseline as red markers. The legend is
// plain HTML beside it; hovering reads the points out in a line below.

import uPlot from '../vendor/uPlot.esm.js';
import { el, fmtNum, timeText } from './util.js';

const plots = new WeakMap(); // container -> uPlot

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

// Line colors per agent, light or dark (style.css --series-N).
function palette() {
  return [1, 2, 3, 4, 5, 6].map((i) => cssVar(`--series-${i}`, '#2f5fd0'));
}

function clear(box, msg) {
  const old = plots.get(box);
  if (old) old.destroy();
  plots.delete(box);
  box.replaceChildren(el('p', { class: 'muted' }, msg));
}

const secs = (ts) => Date.parse(ts) / 1000;
// Tick steps in seconds: whole seconds at least (the labels have no finer).
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
  86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400];

// The x axis in the page's time format (util.js timeText: local time, 24 h,
// ISO dates), to the precision the span needs; the date is shown on the
// first tick and wherever the day changes. Returns [values, zone].
function timeAxis(xs) {
  const span = xs.length > 1 ? xs[xs.length - 1] - xs[0] : 0;
  const zone = timeText(new Date(xs[0] * 1000).toISOString()).split(' ')[2];
  const values = (u, splits) => {
    let day = '';
    return splits.map((x) => {
      const [d, t] = timeText(new Date(x * 1000).toISOString()).split(' ');
      const time = span < 600 ? t : t.slice(0, 5);
      if (span >= 3 * 86400) return d;
      const out = d !== day ? `${time}\n${d}` : time;
      day = d;
      return out;
    });
  };
  return [values, zone];
}

// history: the GET /results/history answer; label(agent_id) -> text;
// regressions: job ids an `event: regression` named (marked like `slower`).
// Returns what is marked ({points, baselines: [job ids], regressions:
// [job ids]}) for the legend and the tests.
export function drawHistory(box, legend, readout, history, label, regressions = new Set()) {
  const series = ((history && history.series) || []).filter((s) => s.points && s.points.length);
  legend.replaceChildren();
  readout.textContent = '';
  if (!series.length) {
    clear(box, history ? 'No completed result with this metric.' : 'Pick an experiment with results.');
    return { points: 0, baselines: [], regressions: [] };
  }
  const colors = palette();
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => secs(p.completed_at))))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const column = () => xs.map(() => null);
  const data = [xs];
  const opts = [{}];
  const bands = [];
  const byX = xs.map(() => []); // what the readout shows at an x
  const base = column();
  const bad = column();
  const marked = { points: 0, baselines: [], regressions: [] };
  series.forEach((s, k) => {
    const color = colors[k % colors.length];
    const mean = column(), lo = column(), hi = column();
    let spread = false;
    for (const p of s.points) {
      const i = at.get(secs(p.completed_at));
      mean[i] = p.mean;
      if (p.n > 1 && typeof p.std === 'number') {
        lo[i] = p.mean - p.std;
        hi[i] = p.mean + p.std;
        spread = true;
      }
      const slow = p.verdict === 'slower' || regressions.has(p.job_id);
      if (p.job_id === s.baseline_job_id) { base[i] = p.mean; marked.baselines.push(p.job_id); }
      if (slow) { bad[i] = p.mean; marked.regressions.push(p.job_id); }
      byX[i].push({ agent: label(s.agent_id), color, p, slow, baseline: p.job_id === s.baseline_job_id });
      marked.points += 1;
    }
    data.push(mean);
    opts.push({ label: label(s.agent_id), stroke: color, width: 2, spanGaps: true,
      points: { show: true, size: 6, fill: color } });
    if (spread) {
      data.push(lo, hi);
      opts.push({ label: 'mean − std', stroke: 'transparent', spanGaps: true, points: { show: false } },
        { label: 'mean + std', stroke: 'transparent', spanGaps: true, points: { show: false } });
      bands.push({ series: [data.length - 1, data.length - 2], fill: `${color}2e` });
    }
    legend.append(el('li', { dataset: { agentId: s.agent_id } },
      el('span', { class: 'swatch', style: `background:${color}` }), label(s.agent_id),
      s.baseline_job_id ? el('span', { class: 'muted' }, ` (baseline ${s.baseline_job_id})`) : ''));
  });
  const panel = cssVar('--panel', '#fff');
  const accent = cssVar('--fg', '#1d2330');
  const red = cssVar('--bad', '#c0362c');
  data.push(base, bad);
  opts.push(
    { label: 'baseline', stroke: accent, paths: () => null, points: { show: true, size: 15, width: 2, stroke: accent, fill: 'transparent' } },
    { label: 'regression', stroke: red, paths: () => null, points: { show: true, size: 10, width: 2, stroke: panel, fill: red } });
  legend.append(
    el('li', { class: 'legend-baseline' }, el('span', { class: 'ring' }), `baseline (${marked.baselines.length})`),
    el('li', { class: 'legend-regression' }, el('span', { class: 'dot bad' }), `slower than the baseline (${marked.regressions.length})`),
    series.some((s) => s.points.some((p) => p.n > 1)) ? el('li', {}, el('span', { class: 'band' }), 'mean ± std') : '');

  const fg = cssVar('--fg', '#1d2330');
  const line = cssVar('--line', '#d9dde5');
  const axis = (o) => ({ stroke: fg, ticks: { stroke: line }, grid: { stroke: line }, ...o });
  const metric = history.metric;
  const [xValues, zone] = timeAxis(xs);
  const better = history.higher_is_better === true ? 'higher is better' : history.higher_is_better === false ? 'lower is better' : '';
  const uopts = {
    width: Math.max(320, Math.floor(box.clientWidth || box.parentElement.clientWidth || 640) - 8),
    height: 280,
    title: `${metric}${better ? ` (${better})` : ''}`,
    legend: { show: false },
    scales: {
      // One time alone: an hour each side (uPlot's own pad for seconds is years).
      x: { time: true, range: (u, lo, hi) => (xs.length === 1 ? [xs[0] - 3600, xs[0] + 3600] : [lo - (hi - lo) * 0.03, hi + (hi - lo) * 0.03]) },
      y: { range: (u, lo, hi) => { const pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.1 || 1; return [lo - pad, hi + pad]; } },
    },
    axes: [axis({ values: xValues, incrs: TIME_INCRS, label: `completed (${zone})`, size: 60 }), axis({ label: metric, size: 60 })],
    series: opts,
    bands,
    hooks: {
      setCursor: [(u) => {
        const i = u.cursor.idx;
        readout.textContent = i == null ? '' : `${timeText(new Date(xs[i] * 1000).toISOString())}: ${byX[i].map((b) =>
          `${b.agent} ${b.p.job_id} ${fmtNum(b.p.mean)}${b.p.n > 1 ? ` ± ${fmtNum(b.p.std)} (n ${b.p.n})` : ''}${b.baseline ? ', baseline' : ''}${b.slow ? ', slower' : ''}`).join('; ')}`;
      }],
    },
  };
  const old = plots.get(box);
  if (old) old.destroy();
  box.replaceChildren();
  plots.set(box, new uPlot(uopts, data, box));
  return marked;
}
