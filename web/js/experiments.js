// Experiments tab: list, create (form or pasted JSON, with the server's
// validation errors shown at the field they name), delete (the 409 reason
// shown), which agents can run each one, and "run on all compatible".

import { post, del, ApiError } from './api.js';
import { state, loadExperiments, onChange } from './state.js';
import { $, $$, el, fmtTime, toast } from './util.js';

const TEMPLATES = {
  command: { argv: ['sh', '-c', 'echo \'{"x_ms": 5}\' > "$RUCKUS_METRICS_FILE"'] },
  compute_benchmark: { precision_types: ['fp32'], matrix_sizes: [256] },
  memory_benchmark: { test_sizes_mb: [16], test_patterns: ['sequential'], iterations_per_size: 3 },
  gpu_benchmark: {},
  llm_generation: {
    endpoint: { base_url: 'http://127.0.0.1:8000', api: 'chat', model: 'model-name' },
    prompts: [{ prompt: 'Say hello.' }],
    concurrency: [1, 4],
    num_requests: 16,
  },
};

const compat = new Map(); // experiment id -> compatibility answer (or Error)

// A client-side mistake tied to a field path, shown like a server's 422.
class FieldError extends Error {
  constructor(path, msg) {
    super(path ? `${path}: ${msg}` : msg);
    this.detail = this.message;
  }
}

function parseObject(text, path, optional) {
  if (!text.trim()) {
    if (optional) return undefined;
    return {};
  }
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new FieldError(path, `invalid JSON (${e.message})`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FieldError(path, 'expected a JSON object');
  return v;
}

function specFromForm(f) {
  const v = (n) => f.elements[n].value.trim();
  const params = parseObject(f.elements.task_params.value, 'task.params', false);
  const runs = v('runs_per_job');
  if (runs && runs !== '1') params.runs_per_job = Number(runs);
  const spec = {
    name: v('name'),
    model: v('model'),
    task: { name: v('task_name'), type: v('task_type'), params },
    framework: { name: v('framework_name'), params: {} },
    metrics: { metrics: {} },
  };
  if (v('description')) spec.description = v('description');
  const req = parseObject(f.elements.requirements.value, 'capability_requirements', true);
  if (req) spec.capability_requirements = req;
  if (v('timeout_seconds')) {
    spec.capability_requirements = spec.capability_requirements || {};
    spec.capability_requirements.timeout_seconds = Number(v('timeout_seconds'));
  }
  return spec;
}

function specFromJson(f) {
  const spec = parseObject(f.elements.spec.value, '', false);
  // Accept both a bare spec and the request body {experiment_spec: ...}.
  return spec.experiment_spec && typeof spec.experiment_spec === 'object' ? spec.experiment_spec : spec;
}

function clearErrors(form) {
  for (const f of $$('.field', form)) {
    f.classList.remove('invalid');
    const e = $('.error', f);
    if (e) e.textContent = '';
  }
}

// Puts "path: reason" under the field whose data-path is the longest
// prefix of path ("task.params.argv" lands on "task.params").
export function showFieldError(form, detail) {
  const m = /^(?:experiment_spec\.?)?([A-Za-z0-9_.[\]]*): (.*)$/s.exec(detail);
  const path = m ? m[1] : '';
  let best = null;
  for (const f of $$('.field[data-path]', form)) {
    const p = f.dataset.path;
    const hit = p === '' || path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
    if (hit && (!best || p.length > best.dataset.path.length)) best = f;
  }
  if (!best) best = $('.field', form);
  best.classList.add('invalid');
  $('.error', best).textContent = detail;
}

async function create(form, build) {
  clearErrors(form);
  try {
    const spec = build(form);
    const r = await post('/experiments', { experiment_spec: spec });
    toast(`created ${r.experiment_id}`);
    await loadExperiments();
  } catch (e) {
    if (e instanceof FieldError || (e instanceof ApiError && e.status === 422)) showFieldError(form, e.detail);
    else showFieldError(form, e.detail || String(e));
  }
}

async function checkCompat(x) {
  try {
    compat.set(x.id, await post('/agents/compatibility/check', { experiment_id: x.id }));
  } catch (e) {
    compat.set(x.id, e);
  }
}

function compatCell(x) {
  const c = compat.get(x.id);
  if (!c) return el('span', { class: 'muted' }, 'checking…');
  if (c instanceof Error) return el('span', { class: 'error' }, c.detail || c.message);
  const ok = c.compatibility_results.filter((r) => r.can_run);
  const bad = c.compatibility_results.filter((r) => !r.can_run);
  const title = bad.map((r) => `${r.agent_name || r.agent_id}: ${r.missing_requirements.join('; ')}`).join('\n');
  return el('span', { title, class: 'compat' },
    `${c.compatible_agents_count}/${c.total_agents_checked}`,
    ok.length ? ` ${ok.map((r) => r.agent_name || r.agent_id).join(', ')}` : '');
}

async function run(x, btn) {
  btn.disabled = true;
  try {
    const r = await post(`/experiments/${encodeURIComponent(x.id)}/run`, {});
    const n = (r.jobs || []).length;
    toast(`${x.name}: ${n} job${n === 1 ? '' : 's'} submitted`);
  } catch (e) {
    toast(`${x.name}: ${e.detail || e}`, true);
  } finally {
    btn.disabled = false;
  }
}

async function remove(x, row) {
  const cascade = $('input[name=cascade]', row).checked;
  if (!confirm(`Delete experiment ${x.name}${cascade ? ' with its finished jobs and results' : ''}?`)) return;
  const err = $('.row-error', row);
  err.textContent = '';
  try {
    await del(`/experiments/${encodeURIComponent(x.id)}${cascade ? '?cascade=true' : ''}`);
    toast(`deleted ${x.id}`);
    await loadExperiments();
  } catch (e) {
    err.textContent = e.detail || String(e);
  }
}

function render() {
  const tbody = $('#experiments-table tbody');
  tbody.replaceChildren(...state.experiments.map((x) => {
    const row = el('tr', { dataset: { experimentId: x.id } });
    const runBtn = el('button', { class: 'run-all', onclick: () => run(x, runBtn) }, 'Run on all compatible agents');
    row.append(
      el('td', { class: 'id' }, x.id),
      el('td', { title: x.description || '' }, x.name),
      el('td', {}, x.task ? x.task.type : ''),
      el('td', {}, x.model),
      el('td', { class: 'num' }, (x.task && x.task.params && x.task.params.runs_per_job) || 1),
      el('td', { class: 'compat-cell' }, compatCell(x)),
      el('td', {}, fmtTime(x.created_at)),
      el('td', {}, el('div', { class: 'bar' }, runBtn,
        el('label', { class: 'muted' }, el('input', { type: 'checkbox', name: 'cascade' }), 'cascade'),
        el('button', { class: 'danger delete', onclick: () => remove(x, row) }, 'Delete')),
      el('div', { class: 'error row-error' })));
    return row;
  }));
  $('#experiments-empty').hidden = state.experiments.length > 0;
}

// Re-checks which agents can run each experiment (agents or experiments
// changed), then redraws.
async function refreshCompat() {
  await Promise.all(state.experiments.map(checkCompat));
  render();
}

export function initExperiments() {
  const form = $('#exp-form');
  const json = $('#exp-json');
  form.elements.task_params.value = JSON.stringify(TEMPLATES.command, null, 1);
  let touched = false;
  form.elements.task_params.addEventListener('input', () => { touched = true; });
  form.elements.task_type.addEventListener('change', () => {
    if (!touched) form.elements.task_params.value = JSON.stringify(TEMPLATES[form.elements.task_type.value] || {}, null, 1);
  });
  json.elements.spec.placeholder = JSON.stringify({
    name: 'echo-metric', model: 'none', task: { name: 'run', type: 'command', params: TEMPLATES.command },
    framework: { name: 'sh', params: {} }, metrics: { metrics: {} },
  }, null, 1);
  for (const r of $$('input[name=exp-mode]')) {
    r.addEventListener('change', () => {
      const mode = $('input[name=exp-mode]:checked').value;
      form.hidden = mode !== 'form';
      json.hidden = mode !== 'json';
    });
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); create(form, specFromForm); });
  json.addEventListener('submit', (e) => { e.preventDefault(); create(json, specFromJson); });
  // Compatibility depends on the experiments and on which agents are
  // registered, not on their status: re-check only when one of those moved.
  let seen = '';
  onChange(() => {
    const key = JSON.stringify([state.experiments.map((x) => x.id), state.agents.map((a) => [a.agent_id, a.last_updated])]);
    if (key !== seen) {
      seen = key;
      refreshCompat();
    }
  });
}

export function showExperiments() {
  return loadExperiments();
}
