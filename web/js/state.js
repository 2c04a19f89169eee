// What several tabs show: the registered agents with their status, and the
// experiments. Loaded at start and reloaded when an event says they changed.

import { get } from './api.js';

export const state = {
  agents: [],            // RegisteredAgentInfo, by registration
  status: new Map(),     // agent_id -> AgentStatus
  statusAt: 0,           // performance.now() when status was read
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
  changed('agents');
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
