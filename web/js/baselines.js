// Baselines: one pinned result per experiment and agent (POST /baselines),
// listed in the Results tab with an unpin action (DELETE), and a "Pin as
// baseline" button on a completed job's detail.

import { get, post, del } from './api.js';
import { agentLabel, experimentLabel } from './state.js';
import { $, el, fmtTime, jobLink, toast } from './util.js';
import { showJob, onResultShown, refreshResultActions } from './jobs.js';

let baselines = []; // {baseline_id, experiment_id, agent_id, job_id, created_at}
const listeners = new Set();

// fn(baselines) runs after the list changed.
export function onBaselines(fn) {
  listeners.add(fn);
}

export function baselineFor(experimentId, agentId) {
  return baselines.find((b) => b.experiment_id === experimentId && b.agent_id === agentId);
}

function render() {
  const tbody = $('#baselines-table tbody');
  tbody.replaceChildren(...baselines.map((b) => el('tr', { dataset: { baselineId: b.baseline_id, jobId: b.job_id } },
    el('td', { title: b.experiment_id }, experimentLabel(b.experiment_id)),
    el('td', { class: 'mono' }, agentLabel(b.agent_id)),
    el('td', {}, jobLink(b.job_id, showJob)),
    el('td', {}, fmtTime(b.created_at)),
    el('td', {}, el('button', { class: 'danger unpin', onclick: () => unpin(b) }, 'Unpin')))));
  $('#baselines-empty').hidden = baselines.length > 0;
  $('#baselines-table').hidden = baselines.length === 0;
}

export async function loadBaselines() {
  const r = await get('/baselines');
  baselines = (r.baselines || []).sort((a, b) => experimentLabel(a.experiment_id).localeCompare(experimentLabel(b.experiment_id))
    || a.agent_id.localeCompare(b.agent_id));
  render();
  refreshResultActions();
  for (const fn of listeners) fn(baselines);
}

async function unpin(b) {
  try {
    await del(`/baselines/${encodeURIComponent(b.baseline_id)}`);
    toast(`unpinned the baseline of ${experimentLabel(b.experiment_id)} on ${agentLabel(b.agent_id)}`);
  } catch (e) {
    toast(e.detail || String(e), true);
  }
  await loadBaselines().catch((e) => toast(e.detail || String(e), true));
}

async function pin(result, button) {
  button.disabled = true;
  try {
    await post('/baselines', { experiment_id: result.experiment_id, agent_id: result.agent_id, job_id: result.job_id });
    toast(`${result.job_id} is the baseline of ${experimentLabel(result.experiment_id)} on ${agentLabel(result.agent_id)}`);
    await loadBaselines();
  } catch (e) {
    button.disabled = false;
    toast(e.detail || String(e), true);
  }
}

export function initBaselines() {
  // A completed result can be pinned; the pinned one says so.
  onResultShown((result, bar) => {
    if (result.status !== 'completed' || !result.agent_id) return;
    const b = baselineFor(result.experiment_id, result.agent_id);
    if (b && b.job_id === result.job_id) {
      bar.append(el('span', { class: 'pinned' }, 'Pinned: the baseline of this experiment on this agent'),
        el('button', { class: 'danger unpin', onclick: () => unpin(b) }, 'Unpin'));
    } else {
      const button = el('button', { id: 'pin-baseline', title: b ? `replaces ${b.job_id}` : '' }, 'Pin as baseline');
      button.addEventListener('click', () => pin(result, button));
      bar.append(button);
    }
  });
}
