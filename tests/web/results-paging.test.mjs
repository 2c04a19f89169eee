// The Results tab with more results than a page: the charts come first,
// the table is paged 50 rows at a time, sorting and export cover every row,
// and the chart's default metric is the one the spec declares (or a
// sensible one: not a checksum or bookkeeping).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { missing, startStack, stopStack, startBrowser, screenshot, api, setupExperiment } from './harness.mjs';

const skip = await missing();
const T = 20000;
const N = 61; // one more than a page and ten

describe('results, paged', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  let paged;
  let plain;
  const pageErrors = [];

  before(async () => {
    stack = await startStack([], { agentArgs: ['--slots', '4'] });
    // Declared z_ms then a_ms: the chart starts with z_ms, not a_ms.
    paged = await setupExperiment(stack, 'paged', ['sh', '-c',
      'echo "{\\"a_ms\\": 1, \\"checksum\\": 7, \\"z_ms\\": $(( $$ % 97 ))}" > "$RUCKUS_METRICS_FILE"'],
    { z_ms: 'ms', a_ms: 'ms' });
    const r = await api(stack, 'POST', '/experiments', { experiment_spec: {
      name: 'plain', model: 'none', framework: { name: 'none', params: {} }, metrics: { metrics: {} },
      task: { name: 'run', type: 'command', params: { argv: ['sh', '-c',
        'echo \'{"a_checksum": 3, "blas_threads": 1, "b_ms": 2}\' > "$RUCKUS_METRICS_FILE"'] } } } });
    plain = r.experiment_id;
    for (let i = 0; i < N - 1; i++) await api(stack, 'POST', '/jobs', { experiment_id: paged, agent_id: stack.agentId });
    await api(stack, 'POST', '/jobs', { experiment_id: plain, agent_id: stack.agentId });
    for (let i = 0; i < 600; i++) {
      if ((await api(stack, 'GET', '/results?limit=1000')).results.length === N) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    browser = await startBrowser(stack.dir);
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${stack.serverUrl}/#results`);
    await page.waitForSelector('#conn.live');
  });

  after(async () => {
    if (browser) await browser.context.close();
    await stopStack(stack);
  });

  const rowCount = () => page.locator('#results-table tbody tr').count();
  const zValues = () => page.locator('#results-table tbody td[data-metric="z_ms"]').allTextContents();

  it('puts the charts first and pages the table', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#results-table tbody tr').length > 0);
    const charts = await page.locator('#tab-results .charts').boundingBox();
    const table = await page.locator('#results-table').boundingBox();
    assert.ok(charts.y < table.y, `charts (y ${charts.y}) above the table (y ${table.y})`);
    assert.equal(await rowCount(), 50);
    assert.equal(await page.textContent('#results-count'), `1–50 of ${N}`);
    assert.equal(await page.isDisabled('#results-prev'), true);
    await screenshot(page, 'results-paged');
    await page.click('#results-next');
    assert.equal(await rowCount(), N - 50);
    assert.equal(await page.textContent('#results-count'), `51–${N} of ${N}`);
    assert.equal(await page.isDisabled('#results-next'), true);
    await page.click('#results-prev');
    assert.equal(await rowCount(), 50);
  });

  it('sorts all rows, not just the page shown', async () => {
    const all = (await api(stack, 'GET', '/results?limit=1000')).results
      .map((r) => r.metrics.z_ms).filter((v) => typeof v === 'number').sort((a, b) => a - b);
    await page.click('#results-table thead th[data-key="m:z_ms"]');
    assert.equal(await page.textContent('#results-count'), `1–50 of ${N}`, 'back on the first page');
    const first = (await zValues()).map(Number);
    assert.deepEqual(first, all.slice(0, 50));
    await page.click('#results-next');
    const rest = (await zValues()).filter((v) => v !== '').map(Number);
    assert.deepEqual(rest, all.slice(50), 'the second page goes on where the first ended; the blank last');
  });

  it('exports every row, not just the page shown', async () => {
    const download = page.waitForEvent('download');
    await page.click('#export-csv');
    const csv = readFileSync(await (await download).path(), 'utf8').trim().split('\n');
    assert.equal(csv.length, N + 1);
  });

  it("charts the spec's declared metric first, else not a checksum or bookkeeping", async () => {
    await page.selectOption('#compare-form select[name=experiment_id]', paged);
    assert.equal(await page.inputValue('#compare-form select[name=metric]'), 'z_ms');
    await page.waitForSelector('#compare-chart .uplot canvas');
    assert.match(await page.textContent('#compare-chart .u-title'), /z_ms/);
    await page.selectOption('#compare-form select[name=experiment_id]', plain);
    assert.equal(await page.inputValue('#compare-form select[name=metric]'), 'b_ms');
    // A metric chosen by hand stays chosen while it exists.
    await page.selectOption('#compare-form select[name=metric]', 'wall_time_s');
    await page.selectOption('#compare-form select[name=experiment_id]', paged);
    assert.equal(await page.inputValue('#compare-form select[name=metric]'), 'wall_time_s');
  });

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
