// End-to-end tests of the dashboard in a real headless Chromium against a
// real ruckus-server and ruckus-agent. Each step checks what the page shows
// and saves a screenshot under build/web-screenshots/.
//
//   node --test tests/web/            (scripts/test.sh, stage "web")
//
// The steps build on each other (one server, one browser), in order.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { missing, startStack, stopStack, startBrowser, screenshot } from './harness.mjs';

const skip = await missing();
if (skip) console.log(`# dashboard tests skipped: ${skip}`);

const T = 20000; // the longest any one expectation waits

describe('dashboard', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  const pageErrors = [];
  const listRequests = []; // GET /api/v1/jobs (the list) after the page loaded

  before(async () => {
    stack = await startStack();
    browser = await startBrowser(stack.dir);
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => d.accept());
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.replace(/\/$/, '') === '/api/v1/jobs' && r.method() === 'GET') listRequests.push(u.search);
    });
  });

  after(async () => {
    if (browser) await browser.context.close();
    if (process.exitCode && stack) console.log(stack.logs.slice(-40).join('\n'));
    await stopStack(stack);
  });

  // The steps build on each other: after a failure the rest are skipped
  // rather than each timing out on a page in an unexpected state.
  let broken = null;
  function step(name, fn) {
    it(name, async (t) => {
      if (broken) return t.skip(`an earlier step failed: ${broken}`);
      try {
        await fn(t);
      } catch (e) {
        broken = name;
        if (page) await screenshot(page, `FAILED-${name.replace(/\W+/g, '-')}`).catch(() => {});
        throw e;
      }
    });
  }

  // Picks the option whose label contains text.
  async function selectLabel(selector, text) {
    const value = await page.$eval(selector, (sel, t) => [...sel.options].find((o) => o.textContent.includes(t))?.value, text);
    assert.ok(value, `${selector} offers ${text}`);
    await page.selectOption(selector, value);
  }

  async function tab(name) {
    await page.click(`#tabs a[data-tab="${name}"]`);
    await page.waitForSelector(`#tab-${name}:not([hidden])`);
  }

  step('serves the page with its assets and an open event stream', async () => {
    const resp = await page.goto(`${stack.serverUrl}/`);
    assert.equal(resp.status(), 200);
    assert.match(resp.headers()['content-type'], /^text\/html/);
    assert.ok(resp.headers().etag, 'index.html has an ETag');
    await page.waitForSelector('#conn.live', { timeout: T });
    assert.equal(await page.textContent('header h1'), 'ruckus');
    assert.equal(await page.locator('#agents-empty').isVisible(), true);
  });

  step('registers an agent by URL and shows its hardware, slots and status', async () => {
    await tab('agents');
    await page.fill('#agent-register input[name=agent_url]', stack.agentUrl);
    await page.click('#agent-register button[type=submit]');
    const row = page.locator(`#agents-table tr[data-agent-id="${stack.agentId}"]`);
    await row.waitFor({ timeout: T });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], stack.agentId);
    assert.match(cells[2], /cores/, 'hardware summary names the CPU cores');
    assert.match(cells[3], /^\d+$/, 'slots is a number');
    assert.match(cells[4], /idle|active/);
    assert.equal(cells[5], 'enabled', 'scheduling');
    assert.equal(cells[8], stack.agentUrl);
    await screenshot(page, 'agents');
  });

  step('shows a validation error at the field the server names', async () => {
    await tab('experiments');
    await page.click('#exp-create-box summary');
    await page.fill('#exp-form input[name=name]', 'bad-spec');
    await page.fill('#exp-form textarea[name=task_params]', '{"argv": 5}');
    await page.click('#exp-form button[type=submit]');
    const field = page.locator('#exp-form .field[data-path="task.params"]');
    await page.waitForSelector('#exp-form .field[data-path="task.params"].invalid', { timeout: T });
    assert.match(await field.locator('.error').textContent(), /task\.params\.argv: expected an array of strings/);
    // Pasted JSON: the same server detail, shown under the JSON box.
    await page.check('input[name=exp-mode][value=json]');
    await page.fill('#exp-json textarea[name=spec]', JSON.stringify({
      name: 'bad-json', model: 'm', task: { name: 't', type: 'nonsense', params: {} }, framework: { name: 'f' }, metrics: { metrics: {} },
    }));
    await page.click('#exp-json button[type=submit]');
    await page.waitForSelector('#exp-json .field.invalid', { timeout: T });
    assert.match(await page.textContent('#exp-json .field .error'), /task\.type/);
    await page.fill('#exp-json textarea[name=spec]', '{"name": ');
    await page.click('#exp-json button[type=submit]');
    await page.waitForFunction(() => /invalid JSON/.test(document.querySelector('#exp-json .field .error').textContent));
    assert.equal(await page.locator('#experiments-table tbody tr').count(), 0, 'nothing was created');
    await screenshot(page, 'experiments-validation');
  });

  step('creates an experiment from the form and shows which agents can run it', async () => {
    await page.check('input[name=exp-mode][value=form]');
    await page.fill('#exp-form input[name=name]', 'echo-metric');
    await page.fill('#exp-form textarea[name=task_params]',
      JSON.stringify({ argv: ['sh', '-c', 'echo \'{"x_ms": 5}\' > "$RUCKUS_METRICS_FILE"'] }));
    await page.click('#exp-form button[type=submit]');
    const row = page.locator('#experiments-table tbody tr', { hasText: 'echo-metric' });
    await row.waitFor({ timeout: T });
    assert.equal(await page.locator('#exp-form .field.invalid').count(), 0, 'errors cleared');
    await page.waitForFunction(() => /^1\/1/.test(document.querySelector('#experiments-table .compat')?.textContent || ''), null, { timeout: T });
    assert.match(await row.locator('.compat').textContent(), /^1\/1 /);
    assert.match(await row.locator('td').nth(2).textContent(), /^command$/);
    await screenshot(page, 'experiments');
  });

  step('submits a job and the live table shows it finish without reloading', async () => {
    await tab('jobs');
    await page.waitForSelector('#jobs-empty:not([hidden])', { timeout: T });
    await page.evaluate(() => { window.__notReloaded = true; });
    await selectLabel('#job-submit select[name=experiment_id]', 'echo-metric');
    await page.selectOption('#job-submit select[name=agent_id]', stack.agentId);
    const before = listRequests.length;
    await page.click('#job-submit button[type=submit]');
    await page.waitForSelector('#jobs-table tbody tr[data-status="completed"]', { timeout: T });
    const row = page.locator('#jobs-table tbody tr').first();
    stack.jobId = await row.getAttribute('data-job-id');
    assert.match(stack.jobId, /^job_[0-9a-f]{8}$/);
    assert.equal(await row.locator('.job-status').textContent(), 'completed');
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
    assert.equal(listRequests.length, before, 'the job list was not fetched again: the change came from the event stream');
    assert.match(await page.textContent('#jobs-count'), /1–1 of 1/);
  });

  step("shows a job's detail with its status history, result and logs", async () => {
    await page.click(`#jobs-table a:text("${stack.jobId}")`);
    await page.waitForSelector('#job-dialog[open]');
    await page.waitForSelector('#job-result table', { timeout: T });
    const hist = await page.locator('#job-history tbody tr td:nth-child(2)').allTextContents();
    assert.equal(hist[0], 'queued');
    assert.equal(hist[hist.length - 1], 'completed');
    assert.match(await page.textContent('#job-result'), /x_ms\s*5/);
    await screenshot(page, 'job-detail');
    await page.click('#job-dialog .dialog-head button');
  });

  step('shows the result in the table and the chart', async () => {
    await tab('results');
    const row = page.locator(`#results-table tbody tr[data-job-id="${stack.jobId}"]`);
    await row.waitFor({ timeout: T });
    assert.equal(await row.locator('td[data-metric="x_ms"]').textContent(), '5');
    assert.ok(await page.locator('#results-table thead th', { hasText: 'x_ms' }).count() === 1, 'x_ms is a column');
    await page.selectOption('#compare-form select[name=metric]', 'x_ms');
    await page.waitForSelector('#compare-chart .uplot canvas', { timeout: T });
    assert.match(await page.textContent('#compare-chart .u-title'), /x_ms/);
    assert.equal(await page.locator('#compare-table tbody tr').count(), 1, 'one agent');
    const cmp = await page.locator('#compare-table tbody tr td').allTextContents();
    assert.match(cmp[0], new RegExp(stack.agentId));
    assert.deepEqual(cmp.slice(1), ['1', '5', '5', '5'], 'one job: mean, min and max 5');
    // Sorting by a column marks it and keeps every row.
    await page.click('#results-table thead th[data-key="m:x_ms"]');
    assert.equal(await page.getAttribute('#results-table thead th[data-key="m:x_ms"]', 'data-dir'), 'asc');
    const download = page.waitForEvent('download');
    await page.click('#export-csv');
    const file = await (await download).path();
    const { readFileSync } = await import('node:fs');
    const csv = readFileSync(file, 'utf8').trim().split('\n');
    assert.match(csv[0], /^job_id,experiment_id,agent_id,status,started_at,completed_at,duration_seconds,error,.*x_ms/);
    assert.match(csv[1], new RegExp(`^${stack.jobId},`));
    await screenshot(page, 'results');
  });

  step('shows the spread of the runs of a multi-run job', async () => {
    await tab('experiments');
    await page.fill('#exp-form input[name=name]', 'three-runs');
    await page.fill('#exp-form textarea[name=task_params]',
      JSON.stringify({ argv: ['sh', '-c', 'echo "{\\"x_ms\\": $(( $$ % 7 + 3 ))}" > "$RUCKUS_METRICS_FILE"'] }));
    await page.fill('#exp-form input[name=runs_per_job]', '4');
    await page.click('#exp-form button[type=submit]');
    const row = page.locator('#experiments-table tbody tr', { hasText: 'three-runs' });
    await row.waitFor({ timeout: T });
    await page.waitForFunction(() => [...document.querySelectorAll('#experiments-table tbody tr')]
      .some((r) => r.textContent.includes('three-runs') && /^1\/1/.test(r.querySelector('.compat')?.textContent || '')), null, { timeout: T });
    await row.locator('button.run-all').click();
    await page.waitForSelector('#toast div:text("three-runs: 1 job submitted")', { timeout: T });
    await tab('results');
    await page.waitForFunction(() => document.querySelectorAll('#spread-form select[name=job_id] option').length === 1, null, { timeout: T });
    await page.selectOption('#spread-form select[name=metric]', 'x_ms');
    await page.waitForSelector('#spread-chart .uplot canvas', { timeout: T });
    const cells = await page.locator('#spread-table tbody td').allTextContents();
    assert.equal(cells[5], '3', 'three warm runs');
    const [mean, , min, , max] = cells.map(Number);
    assert.ok(min >= 3 && max <= 9 && mean >= min && mean <= max, `mean ${mean} within [${min}, ${max}]`);
    await screenshot(page, 'results-spread');
  });

  step('cancels a running job', async () => {
    await tab('experiments');
    await page.check('input[name=exp-mode][value=json]');
    await page.fill('#exp-json textarea[name=spec]', JSON.stringify({
      name: 'sleeper', model: 'none', task: { name: 'sleep', type: 'command', params: { argv: ['sleep', '30'] } },
      framework: { name: 'none', params: {} }, metrics: { metrics: {} },
    }));
    await page.click('#exp-json button[type=submit]');
    await page.locator('#experiments-table tbody tr', { hasText: 'sleeper' }).waitFor({ timeout: T });
    await tab('jobs');
    await selectLabel('#job-submit select[name=experiment_id]', 'sleeper');
    await page.selectOption('#job-submit select[name=agent_id]', stack.agentId);
    await page.click('#job-submit button[type=submit]');
    const running = page.locator('#jobs-table tbody tr[data-status="running"]');
    await running.waitFor({ timeout: T });
    const id = await running.getAttribute('data-job-id');
    await running.locator('button.cancel').click();
    const row = page.locator(`#jobs-table tbody tr[data-job-id="${id}"][data-status="cancelled"]`);
    await row.waitFor({ timeout: T });
    assert.equal(await row.locator('button.cancel').count(), 0, 'no cancel button on a finished job');
    // The filter shows only the cancelled job.
    await page.selectOption('#job-filters select[name=status]', 'cancelled');
    await page.waitForFunction((jid) => {
      const r = document.querySelectorAll('#jobs-table tbody tr');
      return r.length === 1 && r[0].dataset.jobId === jid;
    }, id, { timeout: T });
    await page.selectOption('#job-filters select[name=status]', '');
    await page.waitForFunction(() => document.querySelectorAll('#jobs-table tbody tr').length === 3, null, { timeout: T });
    await screenshot(page, 'jobs');
  });

  step('shows the 409 reason when an experiment with jobs is deleted', async () => {
    await tab('experiments');
    const row = page.locator('#experiments-table tbody tr', { hasText: 'echo-metric' });
    await row.locator('button.delete').click();
    await page.waitForFunction(() => [...document.querySelectorAll('#experiments-table .row-error')].some((e) => e.textContent.length > 0), null, { timeout: T });
    assert.ok((await row.locator('.row-error').textContent()).length > 0);
    await screenshot(page, 'experiments-delete-409');
  });

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
