// The Schedules tab (issue 12) against a real server and agent, on a
// scaled cron clock (RUCKUS_CRON_MINUTE_MS=1500: a cron minute lasts 1.5
// real seconds): the list shows each schedule's name, cron, enabled, next
// and last run, and its last firing's outcome once its job completed; Run
// now, Pause / Resume and Delete act on the server, read back through the
// API after every click.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { missing, startStack, stopStack, startBrowser, screenshot, api, setupExperiment } from './harness.mjs';

const skip = await missing();
const T = 20000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('schedules in the dashboard', { skip: skip || false }, () => {
  let stack;
  let browser;
  let page;
  let every;  // `* * * * *`, enabled
  let night;  // `0 3 * * *`, created paused
  const pageErrors = [];
  const row = (id) => `#schedules-table tbody tr[data-schedule-id="${id}"]`;
  const doc = async (id) => (await api(stack, 'GET', `/schedules/${id}`)).schedule;
  async function until(what, fn, ms = T) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  before(async () => {
    process.env.RUCKUS_CRON_MINUTE_MS = '1500';
    stack = await startStack();
    delete process.env.RUCKUS_CRON_MINUTE_MS;
    const id = await setupExperiment(stack, 'nightly', ['true']);
    every = (await api(stack, 'POST', '/schedules', { name: 'a every minute', cron: '* * * * *', experiment_id: id })).schedule_id;
    night = (await api(stack, 'POST', '/schedules', { name: 'b nightly', cron: '0 3 * * *', experiment_id: id, enabled: false })).schedule_id;
    browser = await startBrowser(stack.dir);
    page = browser.page;
    page.setDefaultTimeout(T);
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => d.accept()); // the delete's confirm()
    await page.goto(`${stack.serverUrl}/#schedules`);
    await page.waitForSelector('#conn.live');
    await page.waitForSelector(row(night));
  });

  after(async () => {
    if (browser) await browser.context.close();
    await stopStack(stack);
  });

  it('lists name, cron, enabled, next and last run', async () => {
    assert.equal(await page.textContent(`${row(every)} td.name`), 'a every minute');
    assert.equal(await page.textContent(`${row(every)} td.cron`), '* * * * *');
    assert.equal(await page.textContent(`${row(every)} td.enabled`), 'yes');
    assert.equal(await page.textContent(`${row(night)} td.enabled`), 'paused');
    assert.equal(await page.textContent(`${row(night)} td.last-outcome`), 'never run');
    assert.ok(await page.getAttribute(`${row(every)} td.next time`, 'datetime'));
  });

  it('shows the last run and its outcome once the firing\'s job completed', async () => {
    // Fires every 1.5 s; job events reload the tab while it is shown.
    await page.waitForSelector(`${row(every)} td.last-outcome [data-outcome="completed"]`);
    const d = await doc(every);
    assert.ok(d.last_run_at);
    const shown = await page.getAttribute(`${row(every)} td.last time`, 'datetime');
    assert.ok(shown, 'the last run is shown');
    await screenshot(page, 'schedules');
  });

  it('pauses and resumes from the row', async () => {
    await page.click(`${row(every)} button.pause`);
    await page.waitForSelector(`${row(every)}[data-enabled="false"]`);
    assert.equal((await doc(every)).enabled, false);
    await page.click(`${row(every)} button.resume`);
    await page.waitForSelector(`${row(every)}[data-enabled="true"]`);
    const d = await doc(every);
    assert.equal(d.enabled, true);
    assert.ok(Date.parse(d.next_run_at) > Date.now() - 1000);
  });

  it('follows changes made elsewhere (schedule events)', async () => {
    // Quiet first: no firing, so no job event reloads the tab meanwhile.
    await api(stack, 'POST', `/schedules/${every}/pause`);
    await page.waitForSelector(`${row(every)}[data-enabled="false"]`);
    await sleep(2500);
    await api(stack, 'POST', `/schedules/${night}/resume`);
    await page.waitForSelector(`${row(night)}[data-enabled="true"]`, { timeout: 5000 });
    await api(stack, 'POST', `/schedules/${night}/pause`);
    await page.waitForSelector(`${row(night)}[data-enabled="false"]`, { timeout: 5000 });
    await api(stack, 'POST', `/schedules/${every}/resume`);
    await page.waitForSelector(`${row(every)}[data-enabled="true"]`, { timeout: 5000 });
  });

  it('runs a paused schedule now', async () => {
    await page.click(`${row(night)} button.run`);
    await until('the run to be stored', async () => ((await doc(night)).last_job_ids || []).length === 1);
    await page.waitForSelector(`${row(night)} td.last-outcome .outcome`);
    const d = await doc(night);
    assert.equal(d.enabled, false, 'run now does not resume it');
    const job = await api(stack, 'GET', `/jobs/${d.last_job_ids[0]}`);
    assert.equal(job.schedule_id, night);
  });

  it('deletes from the row', async () => {
    await page.click(`${row(night)} button.delete`);
    await page.waitForSelector(row(night), { state: 'detached' });
    const list = (await api(stack, 'GET', '/schedules')).schedules.map((s) => s.schedule_id);
    assert.deepEqual(list, [every]);
    assert.deepEqual(pageErrors, []);
  });
});
