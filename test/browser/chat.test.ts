// The demo pages in headless Chromium against a real all-in-one: a shopper and an agent chat both ways,
// unread counts and read receipts move, product and order cards render, a chat is handed to another agent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  AGENTS,
  agentSignsIn,
  customerButton,
  launchChromium,
  openPage,
  overflowsHorizontally,
  screenshot,
  shopperSignsIn,
  startDemoCourier,
  typeAndSend,
  unlabelled,
  untilShown,
  untilUnread,
  WAIT_MS,
  type OpenPage,
} from '../support/browser.js';
import type { TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

const [ANN, BEN] = AGENTS as [string, string];

describe('web chat in Chromium', { timeout: 120_000 }, () => {
  let courier: TestCourier;
  let browser: Browser;
  const pages: OpenPage[] = [];
  before(async () => {
    [courier, browser] = await Promise.all([startDemoCourier(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await courier?.stop();
  });
  const open = async (path: string, viewport?: { width: number; height: number }) => {
    const p = await openPage(browser, courier, path, viewport);
    pages.push(p);
    return p;
  };

  it('serves a landing page that links both pages, with no external requests', async () => {
    const { page, seen } = await open('/');
    assert.equal(await page.title(), 'courier demo');
    assert.deepEqual(await page.$$eval('a.tile', (as) => as.map((a) => a.getAttribute('href'))), [
      '/shop',
      '/agent',
    ]);
    const res = await page.request.get(`${courier.baseUrl}/shop`);
    assert.match(res.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    await screenshot(page, 'web-landing');
    assert.deepEqual(seen, { external: [], errors: [] });
  });

  it('lets a shopper and an agent chat both ways, with unread counts, read receipts and cards', async () => {
    const shopperUid = uniqueId('shopper-');
    // The agent signs in first: assignment prefers agents who are online, so the chat goes to Ann.
    const agent = await open('/agent');
    await agentSignsIn(agent.page, ANN);
    const shop = await open('/shop');
    await shopperSignsIn(shop.page, shopperUid);

    await typeAndSend(shop.page, 'Hello! Is the mug dishwasher safe?');
    await untilShown(shop.page, 'the first message, stored', (m) => m.length === 1 && m[0]?.seq === 1);
    await untilUnread(agent.page, shopperUid, 1);

    await shop.page.getByRole('button', { name: 'Send Courier coffee mug' }).click();
    await untilUnread(agent.page, shopperUid, 2); // counted live, while another conversation could be open

    await customerButton(agent.page, shopperUid).click();
    const agentView = await untilShown(agent.page, 'the two customer messages', (m) => m.length === 2);
    assert.deepEqual(
      agentView.map((m) => [m.seq, m.mine]),
      [
        [1, false],
        [2, false],
      ],
    );
    const card = agent.page.locator('#messages article.card.product');
    await card.waitFor({ timeout: WAIT_MS });
    assert.equal(await card.getByRole('heading').textContent(), 'Courier coffee mug');
    assert.ok(
      await card.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
      'the product image loads (from this origin)',
    );
    await untilUnread(agent.page, shopperUid, 0);
    await untilShown(shop.page, 'read receipts for both', (m) =>
      m.every((x) => x.mine && x.status === 'Read'),
    );

    await typeAndSend(agent.page, 'Yes, it is. Anything else?');
    const shopView = await untilShown(shop.page, "the agent's reply", (m) => m.length === 3);
    assert.deepEqual(shopView[2], { seq: 3, text: 'Yes, it is. Anything else?', mine: false, status: '' });
    await untilShown(agent.page, 'the shopper read the reply', (m) => m[2]?.status === 'Read');

    await agent.page.getByRole('button', { name: 'Send order status' }).click();
    const order = shop.page.locator('#messages article.card.order');
    await order.waitFor({ timeout: WAIT_MS });
    assert.match((await order.textContent()) ?? '', /Order A-1001.*Status: shipped/);

    await screenshot(shop.page, 'web-shop');
    await screenshot(agent.page, 'web-agent');

    // Hand the chat to Ben: it leaves Ann's list, Ben answers, and the shopper sees Ben's answer.
    await agent.page.getByLabel('Transfer to').selectOption(BEN);
    await agent.page.getByRole('button', { name: 'Transfer', exact: true }).click();
    await agent.page.getByText(`handed over to ${BEN}`).waitFor({ timeout: WAIT_MS });
    assert.equal(await customerButton(agent.page, shopperUid).count(), 0);
    const ben = await open('/agent');
    await agentSignsIn(ben.page, BEN);
    await customerButton(ben.page, shopperUid).click();
    await untilShown(ben.page, 'the history for Ben', (m) => m.length === 4);
    await typeAndSend(ben.page, 'Ben here, I will take it from here.');
    const final = await untilShown(shop.page, "Ben's reply", (m) => m.length === 5);
    assert.deepEqual(
      final.map((m) => m.seq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(final[4]?.text, 'Ben here, I will take it from here.');
  });

  it('is usable at phone width and has a label for every control', async () => {
    const shop = await open('/shop', { width: 390, height: 844 });
    assert.deepEqual(await unlabelled(shop.page), [], 'sign-in form');
    await shopperSignsIn(shop.page, uniqueId('phone-'));
    await typeAndSend(shop.page, 'Typed on a phone');
    await untilShown(shop.page, 'the message', (m) => m[0]?.seq === 1);
    assert.deepEqual(await unlabelled(shop.page), [], 'chat');
    assert.equal(await overflowsHorizontally(shop.page), false, 'no sideways scrolling at 390 px');
    assert.equal(await shop.page.locator('#messages[role="log"][aria-live="polite"]').count(), 1);
    await screenshot(shop.page, 'web-shop-phone');

    const agent = await open('/agent', { width: 390, height: 844 });
    await agentSignsIn(agent.page, BEN);
    assert.deepEqual(await unlabelled(agent.page), [], 'agent console');
    assert.equal(await overflowsHorizontally(agent.page), false);
    await screenshot(agent.page, 'web-agent-phone');
  });

  it('made no request outside its own origins and threw no page error', () => {
    for (const p of pages) assert.deepEqual(p.seen, { external: [], errors: [] }, p.page.url());
  });
});
