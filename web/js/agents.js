// Agents tab: the registered agents with hardware, slots, status, current
// jobs and uptime; register by URL; unregister.

import { get, post, query, ApiError } from './api.js';
import { state, loadAgents, onChange } from './state.js';
import { $, el, badge, fmtDuration, hardwareSummary, toast, jobLink } from './util.js';
import { showJob } from './jobs.js';
import { schedulingCell, agentActions } from './queue-actions.js';

function jobLinks(ids) {
  return (ids || []).map((id) => [jobLink(id, showJob), ' ']);
}

const expanded = new Set(); // agents whose queue list is open, kept across renders
let queued = new Map();     // agent_id -> {total, ids}: its jobs queued at the server (newest first)

// The jobs the server holds for an agent until it has a free slot (the
// agent's own queue is in its status): the count and the first QUEUE_SHOWN.
// Asked only while the tab is shown, as every job event reloads the agents.
const QUEUE_SHOWN = 50;
async function queuedAt(agentId) {
  try {
    const r = await get(`/jobs${query({ agent_id: agentId, status: 'queued', limit: QUEUE_SHOWN })}`);
    const ids = Object.values(r.jobs || {}).flat().map((j) => j.job_id);
    return [agentId, { total: r.total ?? ids.length, ids }];
  } catch {
    return [agentId, { total: 0, ids: [] }];
  }
}

async function loadQueues() {
  queued = new Map(await Promise.all(state.agents.map((a) => queuedAt(a.agent_id))));
  render();
}

// Queued jobs: the server's queue for this agent and the agent's own, as a
// count that opens to the list.
function queueBox(agentId, st) {
  const q = queued.get(agentId) || { total: 0, ids: [] };
  const own = (st && st.queued_jobs) || [];
  const ids = [...new Set([...own, ...q.ids])];
  const total = Math.max(ids.length, q.total + own.filter((id) => !q.ids.includes(id)).length);
  if (!total) return null;
  const box = el('details', { class: 'agent-queue', open: expanded.has(agentId) },
    el('summary', {}, `${total} queued`),
    el('div', { class: 'queue-list' }, jobLinks(ids), total > ids.length ? el('span', { class: 'muted' }, `and ${total - ids.length} more`) : null));
  box.addEventListener('toggle', () => { if (box.open) expanded.add(agentId); else expanded.delete(agentId); });
  return box;
}

function render() {
  const tbody = $('#agents-table tbody');
  const since = (performance.now() - state.statusAt) / 1000;
  tbody.replaceChildren(...state.agents.map((a) => {
    const st = state.status.get(a.agent_id);
    const caps = a.capabilities || {};
    return el('tr', { dataset: { agentId: a.agent_id } },
      el('td', { class: 'id' }, a.agent_id),
      el('td', {}, a.agent_name || ''),
      el('td', { title: (caps.task_types || []).join(', ') }, hardwareSummary(a.system_info)),
      el('td', { class: 'num' }, caps.slots ?? ''),
      el('td', { class: 'agent-status' }, st ? badge(st.status) : el('span', { class: 'muted' }, 'unknown')),
      schedulingCell(a),
      el('td', { class: 'agent-jobs' }, st ? jobLinks(st.running_jobs) : null, queueBox(a.agent_id, st)),
      el('td', {}, st && st.status !== 'unavailable' ? fmtDuration(st.uptime_seconds + since) : ''),
      el('td', { class: 'mono' }, a.agent_url),
      el('td', { class: 'actions' }, agentActions(a), el('button', { class: 'danger', onclick: () => unregister(a) }, 'Unregister')));
  }));
  $('#agents-empty').hidden = state.agents.length > 0;
}

async function unregister(a) {
  if (!confirm(`Unregister ${a.agent_name || a.agent_id}?`)) return;
  try {
    await post('/agents/unregister', { agent_id: a.agent_id });
    toast(`unregistered ${a.agent_id}`);
    await loadAgents();
  } catch (e) {
    toast(e.detail || String(e), true);
  }
}

export function initAgents() {
  onChange((what) => {
    if (what !== 'agents') return;
    render();
    if (!$('#tab-agents').hidden) loadQueues();
  });
  const form = $('#agent-register');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const err = $('[data-error]', form);
    err.textContent = '';
    const body = { agent_url: form.elements.agent_url.value.trim() };
    if (form.elements.agent_token.value) body.agent_token = form.elements.agent_token.value;
    try {
      const r = await post('/agents/register', body);
      toast(`registered ${r.agent_id}`);
      form.reset();
      await loadAgents();
    } catch (ex) {
      err.textContent = ex instanceof ApiError ? ex.detail : String(ex);
    }
  });
}

export function showAgents() {
  return loadAgents();
}
