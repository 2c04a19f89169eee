// Baselines, history, regressions and comparison (issue 16) against a real
// server and agent: a command experiment whose workload writes t_ms to
// $RUCKUS_METRICS_FILE from a value the test sets (100 ms, then 10 %
// more), 5 runs a job with a small jitter the test controls too, on two
// machines (agents box-a and box-b). Dark colors and the Asia/Kolkata time
// zone, as a user there would see it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { missing, startStack, stopStack, startAgent, startBrowser, screenshot, api } from './harness.mjs';

const skip = await missing();
const T = 20000;

describe('history, baselines, regressions, compare', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  let exp;
  let valueFile;
  let second; // {url, agentId} of box-b
  const jobs = []; // box-a's jobs, in order
  const pageErrors = [];

  // Runs one job with t_ms around `value` (value + 0, 1, 2 by run) and
  // resolves with its id once its result is stored.
  async function runJob(value, agentId = stack.agentId) {
    writeFileSync(valueFile, String(value));
    const info = await api(stack, 'POST', '/jobs', { experiment_id: exp, agent_id: agentId });
    for (let i = 0; i < 300; i++) {
      const r = await fetch(`${stack.serverUrl}/api/v1/results/${info.job_id}`);
      if (r.ok) {
        const { result } = await r.json();
        assert.equal(result.status, 'completed', JSON.stringify(result));
        if (agentId === stack.agentId) jobs.push(info.job_id);
        return info.job_id;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`job ${info.job_id} has no result after 30 s`);
  }

  before(async () => {
    stack = await startStack([], { agentArgs: ['--name', 'box-a'] });
    second = await startAgent(stack, ['--name', 'box-b']);
    valueFile = path.join(stack.dir, 'value');
    const count = path.join(stack.dir, 'count');
    await api(stack, 'POST', '/agents/register', { agent_url: stack.agentUrl });
    await api(stack, 'POST', '/agents/register', { agent_url: second.url });
    // 5 runs a job: the cold start and 4 warm runs.
    exp = (await api(stack, 'POST', '/experiments', { experiment_spec: {
      name: 'hist', model: 'none', framework: { name: 'none', params: {} },
      metrics: { metrics: { t_ms: { higher_is_better: false } } },
      task: { name: 'run', type: 'command', params: { runs_per_job: 5, argv: ['sh', '-c',
        `n=$(cat ${count} 2>/dev/null || echo 0); echo $((n + 1)) > ${count}; `
        + `echo "{\\"t_ms\\": $(( $(cat ${valueFile}) + n % 3 ))}" > "$RUCKUS_METRICS_FILE"`] } } } })).experiment_id;
    await runJob(100);
    await runJob(120, second.agentId);
    await runJob(100);
    await runJob(120, second.agentId);
    browser = await startBrowser(stack.dir, { colorScheme: 'dark', timezoneId: 'Asia/Kolkata' });
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${stack.serverUrl}/#jobs/${jobs[0]}`);
    await page.waitForSelector('#conn.live');
  });

  after(async () => {
    if (browser) await browser.context.close();
    await stopStack(stack);
  });

  const chart = () => page.locator('#history-chart');

  it('pins a completed job as the baseline from its detail', async () => {
    await page.waitForSelector('#job-dialog[open] #pin-baseline');
    await page.click('#pin-baseline');
    await page.waitForSelector('#job-dialog .pinned');
    await page.locator('#job-result-actions').scrollIntoViewIfNeeded();
    await screenshot(page, 'job-pinned-dark');
    const { baselines } = await api(stack, 'GET', '/baselines');
    assert.equal(baselines.length, 1);
    assert.deepEqual([baselines[0].experiment_id, baselines[0].agent_id, baselines[0].job_id], [exp, stack.agentId, jobs[0]]);
    await page.click('#job-dialog .dialog-head button');
    await page.goto(`${stack.serverUrl}/#results`);
    const row = page.locator(`#baselines-table tr[data-job-id="${jobs[0]}"]`);
    await row.waitFor();
    // Pinned at, in the browser's zone, the server's time as tooltip.
    assert.match(await row.locator('td:nth-child(4)').textContent(), / UTC\+5:30$/);
    assert.equal(await row.locator('time').getAttribute('title'), baselines[0].created_at);
  });

  it('charts the history with the baseline and a 10 % slower result marked', async () => {
    await page.waitForFunction(() => document.querySelector('#history-chart').dataset.points === '4');
    await runJob(110); // arrives by the event stream: the Results tab reloads
    await page.waitForFunction(() => document.querySelector('#history-chart').dataset.points === '5');
    assert.equal(await chart().getAttribute('data-baselines'), jobs[0]);
    assert.equal(await chart().getAttribute('data-regressions'), jobs[2], 'only the 110 ms job is slower');
    assert.equal(await page.inputValue('#history-form select[name=metric]'), 't_ms', 'the declared metric');
    assert.match(await page.textContent('#history-chart .u-title'), /^t_ms \(lower is better\)$/);
    const legend = await page.locator('#history-legend li').allTextContents();
    // One line per machine, by its name; box-a's with its baseline.
    assert.deepEqual(legend.slice(0, 2), [`box-a (baseline ${jobs[0]})`, 'box-b'], legend.join(' | '));
    assert.ok(legend.includes('baseline (1)') && legend.includes('slower than the baseline (1)') && legend.includes('mean ± std'), legend.join(' | '));
    // Hover reads the points out, times in the browser's zone.
    await page.locator('#history-box').scrollIntoViewIfNeeded();
    const over = await page.locator('#history-chart .u-over').boundingBox();
    await page.mouse.move(over.x + over.width - 5, over.y + over.height / 2);
    await page.waitForFunction(() => document.querySelector('#history-readout').textContent !== '');
    const readout = await page.textContent('#history-readout');
    assert.match(readout, /UTC\+5:30: /);
    assert.match(readout, new RegExp(`box-a ${jobs[2]} 11\\d(\\.\\d+)? ± .*slower`), readout);
    await screenshot(page, 'history-dark');
  });

  it("compares a job with its baseline: GET /compare's table, the verdict coloured", async () => {
    await page.goto(`${stack.serverUrl}/#jobs/${jobs[2]}`);
    await page.waitForSelector('#job-dialog[open] #compare-baseline');
    await page.click('#compare-baseline');
    const row = page.locator('#cmp-table tr[data-metric="t_ms"]');
    await row.waitFor();
    assert.equal(await page.inputValue('#cmp-form input[name=a]'), jobs[0]);
    assert.equal(await page.inputValue('#cmp-form input[name=b]'), jobs[2]);
    assert.equal(await row.getAttribute('data-verdict'), 'slower');
    assert.equal(await row.locator('.verdict').textContent(), 'slower');
    const change = Number((await row.locator('td.change').textContent()).replace(/[+ %]/g, ''));
    assert.ok(change > 7 && change < 13, `change ${change} %`);
    assert.match(await row.locator('td.ci').textContent(), /^\[\+\d+(\.\d+)? %, \+\d+(\.\d+)? %\]$/);
    assert.ok(Number(await row.locator('td.p').textContent()) < 0.05);
    // Coloured as the page's "bad" color.
    const colors = await page.evaluate(() => [getComputedStyle(document.querySelector('#cmp-table tr[data-metric="t_ms"] .verdict')).color,
      getComputedStyle(document.documentElement).getPropertyValue('--bad').trim()]);
    assert.equal(colors[0], 'rgb(244, 112, 103)', `dark --bad ${colors[1]}`);
    await screenshot(page, 'compare-dark');
    // Two results of the same workload: `same`.
    await page.fill('#cmp-form input[name=a]', jobs[0]);
    await page.fill('#cmp-form input[name=b]', jobs[1]);
    await page.click('#cmp-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#cmp-table tr[data-metric="t_ms"]')?.dataset.verdict === 'same');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('dialog[open]'));
  });

  it('shows a regression event as a notice linking to the job, marked in the history', async () => {
    // The server compared the 110 ms job with its pinned baseline as it
    // stored it (rk_srv_baseline_check) and sent `event: regression`: the
    // page, live on the event stream since the previous test, shows it.
    await page.goto(`${stack.serverUrl}/#agents`);
    await page.waitForSelector('#conn.live');
    const notice = page.locator(`#regressions .notice[data-job-id="${jobs[2]}"]`);
    await notice.waitFor();
    assert.match(await notice.textContent(), new RegExp(`Regression: ${jobs[2]} \\(hist on box-a .*\\) is slower than its baseline ${jobs[0]} in .*t_ms \\(\\+\\d+\\.\\d %\\)`));
    await screenshot(page, 'regression-notice-dark');
    await notice.locator(`a:text("${jobs[2]}")`).click();
    await page.waitForSelector('#job-dialog[open]');
    assert.equal(await page.textContent('#job-title'), `Job ${jobs[2]}`);
    await page.click('#job-dialog .dialog-head button');
    // The notice stays on other tabs until dismissed.
    await page.goto(`${stack.serverUrl}/#results`);
    await page.waitForFunction(() => document.querySelector('#history-chart').dataset.points === '5');
    assert.equal(await notice.isVisible(), true);
    await notice.locator('button.compare').click();
    await page.waitForSelector('#cmp-table tr[data-metric="t_ms"][data-verdict="slower"]');
    await page.keyboard.press('Escape');
    await notice.locator('button.dismiss').click();
    assert.equal(await page.isHidden('#regressions'), true);
  });

  it('unpins a baseline from the list', async () => {
    await page.click(`#baselines-table tr[data-job-id="${jobs[0]}"] button.unpin`);
    await page.waitForSelector('#baselines-empty:not([hidden])');
    assert.deepEqual((await api(stack, 'GET', '/baselines')).baselines, []);
    await page.waitForFunction(() => document.querySelector('#history-chart').dataset.baselines === '');
    // The server's verdicts are gone with the baseline; the job the
    // regression event named stays marked.
    assert.equal(await chart().getAttribute('data-regressions'), jobs[2]);
  });

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
