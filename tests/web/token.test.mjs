// With a token configured, the page loads without it, asks for it once,
// and then both the API calls and the event stream (fetch-based SSE, which
// can send the header) use it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { missing, startStack, stopStack, startBrowser, screenshot } from './harness.mjs';

const skip = await missing();
const TOKEN = 'web-test-token-0123456789';

describe('dashboard with a token', { skip: skip || false }, () => {
  let stack;
  let browser;

  before(async () => {
    stack = await startStack(['--token', TOKEN]);
    browser = await startBrowser(stack.dir);
    browser.page.setDefaultTimeout(20000);
  });

  after(async () => {
    if (browser) await browser.context.close();
    await stopStack(stack);
  });

  it('asks for the token once and then goes live', async () => {
    const page = browser.page;
    const auth = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/v1/')) auth.push(r.headers().authorization || '');
    });
    const resp = await page.goto(`${stack.serverUrl}/`);
    assert.equal(resp.status(), 200, 'the page itself needs no token');
    await page.waitForSelector('#token-dialog[open]');
    await screenshot(page, 'token');
    await page.fill('#token-form input[name=token]', TOKEN);
    await page.click('#token-form button');
    await page.waitForSelector('#conn.live');
    await page.waitForSelector('#agents-empty:not([hidden])');
    assert.equal(await page.locator('#token-dialog[open]').count(), 0, 'asked once');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('ruckus.token')), TOKEN);
    assert.ok(auth.includes(`Bearer ${TOKEN}`), 'API calls carry the token');
    // A reload keeps the token for the tab's session: no second question.
    await page.reload();
    await page.waitForSelector('#conn.live');
    assert.equal(await page.locator('#token-dialog[open]').count(), 0);
  });
});
