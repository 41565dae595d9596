// The admin dashboard (issue 8) in headless Chromium against a real all-in-one: sign in with the admin key,
// see the cluster with its three roles and traffic, look up a connected user and kick a device (its socket
// closes with 4003), add and remove a ban, edit the sensitive-word list. Screenshots go to test-output/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  launchChromium,
  openPage,
  overflowsHorizontally,
  screenshot,
  unlabelled,
  WAIT_MS,
  type OpenPage,
} from '../support/browser.js';
import { TestCourier, type TestClient } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

const ADMIN_KEY = 'test-admin-key-0123456789';

describe('admin dashboard in Chromium', { timeout: 120_000 }, () => {
  let courier: TestCourier;
  let browser: Browser;
  let admin: OpenPage;
  let page: Page;
  const clients: TestClient[] = [];

  before(async () => {
    [courier, browser] = await Promise.all([
      TestCourier.start({ auth: { adminKeys: [ADMIN_KEY] } }),
      launchChromium(),
    ]);
    // The page talks to business only; a worker's address showing up in a request would be a bug.
    admin = await openPage(browser, courier, '/admin', undefined, () => [courier.baseUrl]);
    page = admin.page;
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await browser?.close();
    await courier?.stop();
  });

  it('refuses a wrong key and signs in with the admin key', async () => {
    assert.equal(await page.title(), 'Admin · courier');
    assert.deepEqual(await unlabelled(page), []);
    const res = await page.request.get(`${courier.baseUrl}/admin/v1/cluster`);
    assert.equal(res.status(), 401, 'the API needs the key');
    await page.getByLabel('Admin key').fill('courier-dev-key-not-admin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor({ timeout: WAIT_MS });
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#dashboard').waitFor({ state: 'visible', timeout: WAIT_MS });
    assert.deepEqual(await unlabelled(page), []);
  });

  it('shows the cluster: each role with address and uptime, and the traffic', async () => {
    const client = await courier.connect('traffic-user');
    clients.push(client);
    await courier.http('POST', '/v1/messages', {
      from: 'x1',
      to: 'traffic-user',
      type: 'text',
      content: 'hey',
    });
    await client.next('message');
    // The view refreshes by itself every few seconds; wait for the one that sees the connection.
    const worker = page.locator('#nodes tr[data-role="worker"]');
    await worker
      .filter({ has: page.locator('td:nth-child(5)', { hasText: /^[1-9]/ }) })
      .waitFor({ timeout: WAIT_MS });
    for (const role of ['business', 'dispatcher', 'worker']) {
      const row = page.locator(`#nodes tr[data-role="${role}"]`);
      assert.equal(await row.count(), 1, role);
      const cells = await row.locator('td').allTextContents();
      assert.equal(cells[0], role);
      assert.match(cells[2] ?? '', role === 'worker' ? /^ws:\/\// : /^http:\/\//);
      assert.match(cells[3] ?? '', /^\d\d:\d\d:\d\d$/, `${role} uptime`);
      assert.equal(cells[5], 'up');
    }
    await page.locator('#traffic tbody tr').first().waitFor({ timeout: WAIT_MS });
    assert.ok((await page.locator('#chart polyline').count()) === 2);
    await screenshot(page, 'admin-cluster');
    assert.equal(await overflowsHorizontally(page), false);
  });

  it('looks up a connected user and kicks one device with 4003', async () => {
    const uid = uniqueId('kickee-');
    const phone = await courier.connect(uid, 'ios');
    const web = await courier.connect(uid, 'web');
    clients.push(phone, web);
    await page.getByLabel('User id', { exact: true }).fill(uid);
    await page.getByRole('button', { name: 'Look up' }).click();
    const rows = page.locator('#devices tbody tr');
    await rows.nth(1).waitFor({ timeout: WAIT_MS });
    assert.equal(await rows.count(), 2);
    await screenshot(page, 'admin-devices');
    await page.getByRole('button', { name: `Kick ${phone.welcome.connId}` }).click();
    assert.equal((await phone.closed).code, 4003);
    await page
      .locator('#notice', { hasText: `Kicked ${phone.welcome.connId}` })
      .waitFor({ timeout: WAIT_MS });
    await page.locator(`#devices tr[data-conn="${phone.welcome.connId}"]`).waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 1);
    assert.equal(web.ws.readyState, web.ws.OPEN, 'the other device stays connected');
  });

  it('adds and removes a ban', async () => {
    const uid = uniqueId('spammer-');
    await page.getByLabel('Ban a').selectOption('uids');
    await page.getByLabel('User id or IP').fill(uid);
    await page.getByLabel('Minutes', { exact: true }).fill('30');
    await page.getByLabel('Reason').fill('spam');
    await page.getByRole('button', { name: 'Ban', exact: true }).click();
    const row = page.locator(`#bans tr[data-ban="${uid}"]`);
    await row.waitFor({ timeout: WAIT_MS });
    const listed = await courier.http<{ uids: { id: string; reason: string }[] }>('GET', '/v1/blacklist');
    assert.deepEqual(
      listed.json.uids.filter((b) => b.id === uid).map((b) => b.reason),
      ['spam'],
    );
    await screenshot(page, 'admin-bans');
    await page.getByRole('button', { name: `Remove the ban of ${uid}` }).click();
    await row.waitFor({ state: 'detached', timeout: WAIT_MS });
    const after = await courier.http<{ uids: { id: string }[] }>('GET', '/v1/blacklist');
    assert.equal(after.json.uids.filter((b) => b.id === uid).length, 0);
  });

  it('edits the sensitive-word list', async () => {
    await page.getByLabel('Words, one per line').fill('lemon\n  melon \n');
    await page.getByLabel('When a message contains one').selectOption('reject');
    await page.getByRole('button', { name: 'Save words' }).click();
    await page.locator('#notice', { hasText: 'Saved 2 words (reject)' }).waitFor({ timeout: WAIT_MS });
    const words = await courier.http<{ words: string[]; mode: string }>('GET', '/v1/sensitive-words');
    assert.deepEqual(words.json, { words: ['lemon', 'melon'], mode: 'reject' });
    const refused = await courier.http('POST', '/v1/messages', {
      from: 'x1',
      to: 'x2',
      type: 'text',
      content: 'a melon',
    });
    assert.equal(refused.status, 422);
    await screenshot(page, 'admin-words');
    assert.deepEqual(admin.seen, { external: [], errors: [] });
  });
});
