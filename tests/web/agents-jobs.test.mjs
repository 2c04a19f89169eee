// The Agents and Jobs tabs with jobs in flight: the running job as a link
// to its detail, the server-side queue per agent, times with their zone,
// progress moving on a real running job (its workload writes what the test
// sets to $RUCKUS_PROGRESS_FILE; the server passes it on), and the system's
// dark mode. The browser runs with a dark color scheme and the time zone
// of India (UTC+5:30, a zone with minutes).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { missing, startStack, stopStack, startBrowser, screenshot, api, setupExperiment } from './harness.mjs';

const skip = await missing();
const T = 20000;

// What the page should show for an RFC 3339 time in UTC+5:30.
function inKolkata(iso) {
  const d = new Date(new Date(iso).getTime() + 330 * 60000);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC+5:30`;
}

describe('agents and jobs in flight', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  const jobs = [];
  const pageErrors = [];
  let progressFile; // what the running job reports as its progress

  before(async () => {
    stack = await startStack();
    progressFile = path.join(stack.dir, 'progress-now');
    writeFileSync(progressFile, '0.3');
    const exp = await setupExperiment(stack, 'progress', ['sh', '-c',
      `end=$(($(date +%s) + 60)); while [ $(date +%s) -lt $end ]; do `
      + `cat ${progressFile} > "$RUCKUS_PROGRESS_FILE"; sleep 0.2; done`]);
    // One slot: the first job runs, the other two wait in the server's queue.
    for (let i = 0; i < 3; i++) jobs.push((await api(stack, 'POST', '/jobs', { experiment_id: exp, agent_id: stack.agentId })).job_id);
    for (let i = 0; i < 100; i++) {
      if ((await api(stack, 'GET', `/jobs/${jobs[0]}`)).status.status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    browser = await startBrowser(stack.dir, { colorScheme: 'dark', timezoneId: 'Asia/Kolkata' });
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${stack.serverUrl}/#agents`);
    await page.waitForSelector('#conn.live');
  });

  after(async () => {
    if (browser) await browser.context.close();
    for (const id of jobs) await api(stack, 'DELETE', `/jobs/${id}`).catch(() => {});
    await stopStack(stack);
  });

  it('follows the system dark mode', async () => {
    const lum = await page.evaluate(() => [document.body, document.querySelector('#agents-table')].map((e) => {
      const [r, g, b] = getComputedStyle(e).backgroundColor.match(/\d+/g).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    }));
    assert.ok(lum.every((l) => l < 0.25), `dark backgrounds (luminance ${lum})`);
    const fg = await page.evaluate(() => getComputedStyle(document.body).color.match(/\d+/g).map(Number));
    assert.ok(fg[0] > 150, `light text (${fg})`);
  });

  it("links the agent's running job to its detail", async () => {
    const link = page.locator(`#agents-table tr[data-agent-id="${stack.agentId}"] .agent-jobs a`, { hasText: jobs[0] });
    await link.waitFor();
    assert.equal(await link.textContent(), jobs[0]);
    assert.match(await link.getAttribute('href'), new RegExp(`#jobs/${jobs[0]}$`));
    await screenshot(page, 'agents-in-flight-dark');
    await link.click();
    await page.waitForSelector('#job-dialog[open]');
    assert.equal(await page.textContent('#job-title'), `Job ${jobs[0]}`);
    await page.click('#job-dialog .dialog-head button');
    // The link's address opens the same detail.
    await page.goto(`${stack.serverUrl}/#jobs/${jobs[1]}`);
    await page.waitForSelector('#job-dialog[open]');
    assert.equal(await page.textContent('#job-title'), `Job ${jobs[1]}`);
    await page.click('#job-dialog .dialog-head button');
  });

  it("shows each agent's queued jobs: a count, the list on expand", async () => {
    await page.click('#tabs a[data-tab="agents"]');
    const queue = page.locator(`#agents-table tr[data-agent-id="${stack.agentId}"] .agent-queue`);
    await queue.waitFor();
    assert.match(await queue.locator('summary').textContent(), /^2 queued$/);
    assert.equal(await queue.locator('a').first().isVisible(), false, 'listed on expand');
    await queue.locator('summary').click();
    const ids = await queue.locator('a').allTextContents();
    assert.deepEqual(ids.sort(), [jobs[1], jobs[2]].sort());
    await screenshot(page, 'agents-queue-dark');
    await queue.locator('a', { hasText: jobs[2] }).click();
    await page.waitForSelector('#job-dialog[open]');
    assert.equal(await page.textContent('#job-title'), `Job ${jobs[2]}`);
    await page.click('#job-dialog .dialog-head button');
  });

  it('shows times in local time with their zone, the ISO time as a tooltip', async () => {
    await page.click('#tabs a[data-tab="jobs"]');
    const row = page.locator(`#jobs-table tr[data-job-id="${jobs[0]}"]`);
    await row.waitFor();
    const info = await api(stack, 'GET', `/jobs/${jobs[0]}`);
    const created = row.locator('td.job-created');
    assert.equal(await created.textContent(), inKolkata(info.created_time));
    assert.equal(await created.locator('[title]').getAttribute('title'), info.created_time);
  });

  it('shows progress moving live in the table and the detail', async () => {
    // The running job reports what the test writes; the server reads it from
    // the agent and sends it as job events, which move the page.
    await page.click(`#jobs-table a:text("${jobs[0]}")`);
    await page.waitForSelector('#job-dialog[open]');
    const cell = page.locator(`#jobs-table tr[data-job-id="${jobs[0]}"] .job-progress`);
    const detail = page.locator('#job-info .job-progress');
    for (const [p, shown] of [['0.4', '40%'], ['0.8', '80%'], ['0.9', '90%']]) {
      writeFileSync(progressFile, p);
      await page.waitForFunction(([s]) => document.querySelector('#job-info .job-progress')?.textContent.includes(s), [shown]);
      assert.match(await detail.textContent(), new RegExp(`^${shown}$`));
      await page.waitForFunction(([id, s]) => document.querySelector(`#jobs-table tr[data-job-id="${id}"] .job-progress`)?.textContent.includes(s), [jobs[0], shown]);
      assert.equal(Number(await cell.locator('progress').getAttribute('value')), Number(shown.slice(0, -1)) / 100);
    }
    await screenshot(page, 'job-progress-dark');
    await page.click('#job-dialog .dialog-head button');
  });

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
