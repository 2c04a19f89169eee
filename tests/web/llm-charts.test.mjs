// The charts of an llm_generation result in a job's detail, against a real
// server and agent: the agent runs the deterministic OpenAI-compatible test
// server (rk-llm-testserver) as the job's managed server, once with a
// concurrency sweep (10, 1, 2) and once with request rates (12.5 and 2 req/s,
// stages r12p5 and r2); the detail must chart one point per stage, in load
// order, with exactly the numbers the server's API holds for the result.
// A command job's detail shows no LLM charts.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { missing, startStack, stopStack, startBrowser, screenshot, api, BIN } from './harness.mjs';

const TESTSERVER = path.join(BIN, 'rk-llm-testserver');
const skip = (await missing()) || (existsSync(TESTSERVER) ? null : `${TESTSERVER} not built`);
const T = 20000;

describe('LLM charts in the job detail', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  const pageErrors = [];

  async function experiment(name, params, type = 'llm_generation') {
    return (await api(stack, 'POST', '/experiments', { experiment_spec: {
      name, model: 'test', task: { name: 'serve', type, params },
      framework: { name: type === 'llm_generation' ? 'openai' : 'none', params: {} }, metrics: { metrics: {} },
    } })).experiment_id;
  }

  // Runs one job of exp; resolves with its stored result once completed.
  async function runJob(exp) {
    const info = await api(stack, 'POST', '/jobs', { experiment_id: exp, agent_id: stack.agentId });
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${stack.serverUrl}/api/v1/results/${info.job_id}`);
      if (r.ok) {
        const { result } = await r.json();
        assert.equal(result.status, 'completed', JSON.stringify(result));
        return result;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`job ${info.job_id} has no result after 60 s`);
  }

  const llmParams = (load) => ({
    endpoint: { api: 'chat', model: 'test' },
    server: { argv: [TESTSERVER, '--port', '{port}', '--ttft-ms', '20', '--itl-ms', '2', '--tokens', '6', '--role-first'],
      ready_timeout_s: 30 },
    prompts: [{ prompt: 'hello' }], num_requests: 8, ...load,
  });

  before(async () => {
    stack = await startStack();
    await api(stack, 'POST', '/agents/register', { agent_url: stack.agentUrl });
    browser = await startBrowser(stack.dir);
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    if (browser) await browser.context.close();
    await stopStack(stack);
  });

  async function openJob(id) {
    await page.goto(`${stack.serverUrl}/#jobs/${id}`);
    await page.waitForSelector('#job-dialog[open]');
    await page.waitForFunction((jid) => document.querySelector('#job-title').textContent === `Job ${jid}`, id);
    await page.waitForSelector('#job-result table');
  }

  // What each chart must show: per stage, these metrics in series order.
  const CHARTS = {
    'llm-ttft-chart': ['ttft_p50_ms', 'ttft_p90_ms', 'ttft_p99_ms'],
    'llm-tpot-chart': ['tpot_p50_ms', 'tpot_p90_ms', 'tpot_p99_ms'],
    'llm-throughput-chart': ['output_tok_per_s', 'req_per_s'],
  };

  async function checkCharts(result, stages) {
    await page.waitForFunction((n) => document.querySelector('#llm-ttft-chart')?.dataset.points === n, String(stages.length));
    for (const [id, keys] of Object.entries(CHARTS)) {
      const box = page.locator(`#${id}`);
      assert.equal(await box.getAttribute('data-stages'), stages.join(','), id);
      assert.equal(await page.locator(`#${id} .uplot canvas`).count(), 1, `${id} drawn`);
      const drawn = await page.evaluate(async (sel) => {
        const m = await import('/ui/js/llm-charts.js');
        return m.drawnData(document.querySelector(sel));
      }, `#${id}`);
      assert.deepEqual(drawn[0], stages.map((_, i) => i), `${id}: one point per stage`);
      keys.forEach((k, s) => {
        const want = stages.map((st) => result.metrics[`${st}_${k}`]);
        for (const v of want) assert.equal(typeof v, 'number', `${k} is in the result`);
        assert.deepEqual(drawn[s + 1], want, `${id}: ${k} per stage`);
      });
    }
    // The table beside them: one row per stage, the same numbers.
    const rows = await page.$$eval('#llm-stage-table tbody tr', (trs) => trs.map((tr) => tr.dataset.stage));
    assert.deepEqual(rows, stages);
    for (const st of stages) {
      const cell = await page.textContent(`#llm-stage-table td[data-metric="${st}_ttft_p99_ms"]`);
      assert.equal(Number(cell), Number(result.metrics[`${st}_ttft_p99_ms`].toPrecision(6)));
    }
  }

  it('charts TTFT, TPOT and throughput for each concurrency level', async () => {
    const exp = await experiment('llm sweep', llmParams({ concurrency: [10, 1, 2] }));
    const result = await runJob(exp);
    // Sane numbers first: the server waits 20 ms before the first token.
    for (const st of ['c1', 'c2', 'c10']) assert.ok(result.metrics[`${st}_ttft_p50_ms`] >= 19.5, st);
    await openJob(result.job_id);
    await checkCharts(result, ['c1', 'c2', 'c10']); // numeric order, not c1, c10, c2
    assert.match(await page.textContent('#llm-ttft-chart .u-title'), /TTFT/);
    // Side by side or stacked, the charts never overlap.
    const boxes = await Promise.all(Object.keys(CHARTS).map((id) => page.locator(`#${id} .uplot`).boundingBox()));
    for (let a = 0; a < boxes.length; a++) {
      for (let b = a + 1; b < boxes.length; b++) {
        const [p, q] = [boxes[a], boxes[b]];
        const apart = p.x + p.width <= q.x + 1 || q.x + q.width <= p.x + 1 || p.y + p.height <= q.y + 1 || q.y + q.height <= p.y + 1;
        assert.ok(apart, `charts ${a} and ${b} overlap: ${JSON.stringify([p, q])}`);
      }
    }
    await page.locator('#llm-charts').scrollIntoViewIfNeeded();
    await screenshot(page, 'llm-charts');
  });

  it('names rate stages r<R> with p for the point, in rate order', async () => {
    const exp = await experiment('llm rates', llmParams({ request_rate: [12.5, 2], num_requests: 6 }));
    const result = await runJob(exp);
    await openJob(result.job_id);
    await checkCharts(result, ['r2', 'r12p5']);
  });

  it('shows no LLM charts for another task type', async () => {
    const exp = await experiment('cmd', { argv: ['true'] }, 'command');
    const result = await runJob(exp);
    await openJob(result.job_id);
    assert.equal(await page.locator('#llm-charts').count(), 0);
    assert.deepEqual(pageErrors, []);
  });
});
