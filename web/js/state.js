// What several tabs show: the registered agents with their status, and the
// experiments. Loaded at start and reloaded when an event says they changed.

import { get, query } from './api.js';

export const state = {
  agents: [],            // RegisteredAgentInfo, by registration
  status: new Map(),     // agent_id -> AgentStatus
  statusAt: 0,           // performance.now() when status was read
  queued: new Map(),     // agent_id -> {total, ids}: its jobs queued at the server (newest first)
  experiments: [],       // ExperimentSpec with id
};

const listeners = new Set();

// fn(what) runs after 'agents' or 'experiments' changed.
export function onChange(fn) {
  listeners.add(fn);
}

function changed(what) {
  for (const fn of listeners) fn(what);
}

export async function loadAgents() {
  const [list, st] = await Promise.all([get('/agents'), get('/agents/status').catch(() => ({ agents: [] }))]);
  state.agents = list.agents || [];
  state.status = new Map((st.agents || []).map((s) => [s.agent_id, s]));
  state.statusAt = performance.now();
  state.queued = new Map(await Promise.all(state.agents.map((a) => queuedAt(a.agent_id))));
  changed('agents');
}

// The jobs the server holds for an agent until it has a free slot (the
// agent's own queue is in its status): the count and the first QUEUE_SHOWN.
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

export async function loadExperiments() {
  const r = await get('/experiments');
  state.experiments = (r.experiments || []).sort((a, b) => a.name.localeCompare(b.name));
  changed('experiments');
}

export function agentLabel(id) {
  const a = state.agents.find((x) => x.agent_id === id);
  return a && a.agent_name ? `${a.agent_name} (${id})` : id;
}

export function experimentLabel(id) {
  const x = state.experiments.find((e) => e.id === id);
  return x ? x.name : id;
}
