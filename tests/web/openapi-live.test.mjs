// The answers of a real ruckus-server and ruckus-agent against their
// OpenAPI documents (openapi-check.mjs): after one job has run, each call's
// body must match the schema the document gives for that operation and
// status code, and every field sent must be declared in it. So the
// documents say neither more nor less than the programs do. The live part
// is skipped when the programs are not built.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, startStack, stopStack } from './harness.mjs';
import { checker } from './openapi-check.mjs';

const skip = ['ruckus-server', 'ruckus-agent'].find((p) => !existsSync(path.join(BIN, p)))
  ? `programs not built in ${BIN}` : false;

const load = (f) => JSON.parse(readFileSync(path.join(ROOT, 'docs/openapi', f), 'utf8'));

// The check fails when the document and an answer disagree (no programs
// needed): a field the answer lacks, one the document lacks, a bad value.
describe('the answer check', () => {
  const body = {
    job_id: 'job_12345678', experiment_id: 'exp_abcdef', agent_id: 'a1',
    created_time: '2026-01-01T00:00:00Z',
    status: { status: 'completed', timestamp: '2026-01-01T00:00:00Z', message: '' },
  };
  const run = (mutate, b = body) => {
    const doc = load('server.json');
    mutate(doc);
    checker(doc, `mutated-${Math.random()}`)('GET', '/api/v1/jobs/job_12345678', 200, b);
  };
  it('passes a matching answer', () => run(() => {}));
  it('fails on a required field the answer lacks', () => {
    assert.throws(() => run((d) => d.components.schemas.JobInfo.required.push('priority')), /required property 'priority'/);
  });
  it('fails on a field the document does not declare', () => {
    assert.throws(() => run(() => {}, { ...body, frobnicate: 'high' }), /does not declare[^]*'\.frobnicate'/);
  });
  it('fails on a value outside the schema', () => {
    assert.throws(() => run(() => {}, { ...body, status: { ...body.status, status: 'sleeping' } }), /allowed values/);
  });
  it('fails on a status code the document does not list', () => {
    const doc = load('server.json');
    assert.throws(() => checker(doc, 'codes')('GET', '/api/v1/jobs/job_12345678', 418, {}), /documents status 418/);
  });
});

describe('answers match the OpenAPI documents', { skip }, () => {
  let stack;
  let jobId;
  let expId;
  const server = checker(load('server.json'), 'server.json');
  const agent = checker(load('agent.json'), 'agent.json');

  async function call(base, check, method, url, body) {
    const r = await fetch(base + url, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const ctype = r.headers.get('content-type') || '';
    const json = ctype.startsWith('application/json') ? JSON.parse(text) : text;
    check(method, url, r.status, json);
    return { status: r.status, json };
  }
  const S = (m, u, b) => call(stack.serverUrl, server, m, u, b);
  const A = (m, u, b) => call(stack.agentUrl, agent, m, u, b);

  before(async () => {
    stack = await startStack();
    let r = await S('POST', '/api/v1/agents/register', { agent_url: stack.agentUrl });
    assert.equal(r.status, 200);
    r = await S('POST', '/api/v1/experiments', {
      experiment_spec: {
        name: 'openapi-live', description: 'three runs of a short command', model: 'none',
        task: { name: 't', type: 'command', params: { argv: ['/bin/sh', '-c', 'echo hi'], runs_per_job: 3 } },
        framework: { name: 'shell', params: {} },
        metrics: { metrics: { wall_time_s: 'seconds' } },
        capability_requirements: { timeout_seconds: 60 },
      },
    });
    assert.equal(r.status, 201);
    expId = r.json.experiment_id;
    r = await S('POST', '/api/v1/jobs', { experiment_id: expId, agent_id: stack.agentId });
    assert.equal(r.status, 201);
    jobId = r.json.job_id;
    for (let i = 0; i < 300; i++) {
      r = await S('GET', `/api/v1/jobs/${jobId}`);
      if (!['queued', 'assigned', 'running'].includes(r.json.status.status)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(r.json.status.status, 'completed', JSON.stringify(r.json));
    // The result is stored with the terminal status; wait until it reads.
    for (let i = 0; i < 100 && (await fetch(`${stack.serverUrl}/api/v1/results/${jobId}`)).status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    await stopStack(stack);
  });

  it('server answers', async () => {
    const ok = async (m, u, b, code = 200) => assert.equal((await S(m, u, b)).status, code, `${m} ${u}`);
    await ok('GET', '/health');
    await ok('GET', '/api/v1/health');
    await ok('GET', '/api/v1/openapi.json');
    await ok('GET', '/api/v1/agents');
    await ok('GET', `/api/v1/agents/${stack.agentId}`);
    await ok('GET', `/api/v1/agents/${stack.agentId}/info`);
    await ok('GET', '/api/v1/agents/status');
    await ok('GET', `/api/v1/agents/${stack.agentId}/status`);
    await ok('POST', '/api/v1/agents/compatibility/check', { experiment_id: expId });
    await ok('GET', '/api/v1/agents/compatibility/matrix');
    await ok('GET', '/api/v1/experiments');
    await ok('GET', `/api/v1/experiments/${expId}`);
    await ok('GET', '/api/v1/jobs');
    await ok('GET', '/api/v1/jobs?status=completed,failed&limit=1');
    await ok('GET', `/api/v1/jobs/${jobId}`);
    await ok('GET', '/api/v1/results');
    await ok('GET', `/api/v1/results/${jobId}`);
    await ok('GET', `/api/v1/compare?a=${jobId}&b=${expId}:${stack.agentId}`);
    await ok('GET', `/api/v1/jobs/${jobId}/logs?stream=stdout`);
    await ok('POST', `/api/v1/experiments/${expId}/run`, { agent_ids: [stack.agentId] }, 201);
    // Errors: the {"detail"} shape with a documented code.
    await ok('GET', '/api/v1/jobs/job_00000000', undefined, 404);
    await ok('GET', '/api/v1/jobs/a..b%00', undefined, 400);
    await ok('GET', '/api/v1/jobs?limit=0', undefined, 422);
    await ok('POST', '/api/v1/experiments', { experiment_spec: { name: 'x' } }, 422);
    await ok('DELETE', `/api/v1/jobs/${jobId}`, undefined, 409);
    await ok('DELETE', `/api/v1/experiments/${expId}`, undefined, 409);
    await ok('POST', '/api/v1/agents/unregister', { agent_id: 'nobody' }, 404);
  });

  it('server answers for schedules', async () => {
    const ok = async (m, u, b, code = 200) => {
      const r = await S(m, u, b);
      assert.equal(r.status, code, `${m} ${u}`);
      return r.json;
    };
    const { schedule_id: id } = await ok('POST', '/api/v1/schedules',
      { name: 'nightly', cron: '0 3 * * *', experiment_id: expId, agent_ids: [stack.agentId], priority: 'high' }, 201);
    await ok('POST', '/api/v1/schedules', { name: 'sel', cron: '*/5 * * * 1-5', experiment_id: expId,
      agent_selector: { labels: {} }, enabled: false }, 201);
    await ok('GET', '/api/v1/schedules');
    await ok('GET', `/api/v1/schedules/${id}`);
    await ok('POST', `/api/v1/schedules/${id}/pause`);
    await ok('POST', `/api/v1/schedules/${id}/resume`);
    await ok('POST', `/api/v1/schedules/${id}/run`, undefined, 201);
    await ok('GET', `/api/v1/schedules/${id}`); // with last_run_at and last_job_ids
    await ok('POST', '/api/v1/schedules', { name: 'bad', cron: '60 * * * *', experiment_id: expId }, 422);
    await ok('POST', '/api/v1/schedules', { name: 'bad', cron: '* * * * *', experiment_id: 'exp_00000000' }, 404);
    await ok('GET', '/api/v1/schedules/sch_00000000', undefined, 404);
    await ok('DELETE', `/api/v1/schedules/${id}`);
  });

  it('agent answers', async () => {
    const ok = async (m, u, b, code = 200) => assert.equal((await A(m, u, b)).status, code, `${m} ${u}`);
    await ok('GET', '/health');
    await ok('GET', '/api/v1/health');
    await ok('GET', '/api/v1/openapi.json');
    await ok('GET', '/api/v1/info');
    await ok('GET', '/api/v1/status');
    await ok('GET', `/api/v1/status/${jobId}`);
    await ok('GET', `/api/v1/status/${jobId}?wait=1&known=completed`);
    await ok('GET', `/api/v1/results/${jobId}`);
    await ok('GET', `/api/v1/jobs/${jobId}/logs?stream=stderr&offset=0`);
    await ok('DELETE', `/api/v1/jobs/${jobId}`, undefined, 409);
    await ok('GET', '/api/v1/status/job_00000000', undefined, 404);
    await ok('GET', '/api/v1/status/job_00000000?wait=x', undefined, 422);
    await ok('POST', '/api/v1/jobs', { job_id: 'job_00000001' }, 422);
  });
});
