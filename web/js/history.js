// The Results tab's history panel: for the chosen experiment and metric,
// GET /results/history drawn by history-chart.js, redrawn when results,
// baselines or regressions change.

import { get, query } from './api.js';
import { state, agentLabel, experimentLabel } from './state.js';
import { $, fillSelect, toast } from './util.js';
import { drawHistory } from './history-chart.js';
import { declaredMetrics } from './metrics.js';
import { onResults, chooseMetric, metricNames } from './results.js';
import { onBaselines } from './baselines.js';
import { regressionJobs, onRegressions } from './regressions.js';

let results = [];
let history = null; // the last answer drawn
let gen = 0;

const agentName = (id) => {
  const a = state.agents.find((x) => x.agent_id === id);
  return (a && a.agent_name) || id;
};

function draw() {
  const marked = drawHistory($('#history-chart'), $('#history-legend'), $('#history-readout'), history, agentName, regressionJobs());
  const box = $('#history-chart');
  box.dataset.points = marked.points;
  box.dataset.baselines = marked.baselines.join(' ');
  box.dataset.regressions = marked.regressions.join(' ');
}

// Offers the experiments and metrics of the loaded results, then reads the
// history of the chosen pair.
async function load() {
  const f = $('#history-form').elements;
  const exps = [...new Set(results.map((r) => r.experiment_id))].map((id) => [id, experimentLabel(id)]);
  fillSelect(f.experiment_id, exps);
  const forExp = results.filter((r) => r.experiment_id === f.experiment_id.value && r.status === 'completed');
  const names = metricNames(forExp).filter((m) => forExp.some((r) => typeof r.metrics[m] === 'number'));
  chooseMetric('history', f.metric, names, declaredMetrics(state.experiments.find((x) => x.id === f.experiment_id.value)));
  const my = ++gen;
  if (!f.experiment_id.value || !f.metric.value) {
    history = null;
  } else {
    try {
      const h = await get(`/results/history${query({ experiment_id: f.experiment_id.value, metric: f.metric.value })}`);
      if (my !== gen) return;
      history = h;
    } catch (e) {
      if (my !== gen) return;
      history = null;
      toast(`history: ${e.detail || e}`, true);
    }
  }
  draw();
}

export function initHistory() {
  onResults((list) => { results = list; load(); });
  onBaselines(() => { if (results.length) load(); });
  onRegressions(() => { if (history) draw(); });
  $('#history-form').addEventListener('change', load);
  window.addEventListener('resize', () => { if (history && !$('#tab-results').hidden) draw(); });
}
