// The worker holding the shopper's WebSocket is restarted mid-conversation, in the all-in-one: the worker
// role is stopped (gracefully with 1012, or cut off like a crash) and a new one started under the same id
// on the same backends. Messages keep arriving meanwhile; the shopper's page must reconnect by itself and
// end up showing every message of the conversation exactly once, in seq order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Message } from '../../internal/protocol/message.js';
import {
  AGENTS,
  agentSignsIn,
  connected,
  launchChromium,
  openPage,
  screenshot,
  shopperSignsIn,
  startDemoCourier,
  typeAndSend,
  untilShown,
  WAIT_MS,
  type OpenPage,
} from '../support/browser.js';
import type { TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

const ANN = AGENTS[0] as string;

describe('web chat across a worker restart', { timeout: 120_000 }, () => {
  let courier: TestCourier;
  let browser: Browser;
  before(async () => {
    // A short ACK timeout so that pushes lost with the old worker are not what the test waits for.
    [courier, browser] = await Promise.all([
      startDemoCourier({ worker: { ackTimeoutMs: 2_000 } }),
      launchChromium(),
    ]);
  });
  after(async () => {
    await browser?.close();
    await courier?.stop();
  });

  const sendAsAgent = async (conversation: string, content: string) => {
    const body = { from: ANN, conversation, type: 'text', content, clientMsgId: uniqueId('agent-') };
    const res = await courier.http('POST', '/v1/messages', body);
    assert.equal(res.status, 200, JSON.stringify(res.json));
  };

  const history = async (conversation: string): Promise<Message[]> =>
    (
      await courier.http<{ messages: Message[] }>(
        'GET',
        `/v1/conversations/${encodeURIComponent(conversation)}/messages?limit=500`,
      )
    ).json.messages;

  /** Waits until the page shows exactly the stored conversation: same seqs, same texts, nothing pending. */
  const showsExactly = async (page: Page, conversation: string, what: string) => {
    const stored = await history(conversation);
    const expected = stored.map((m) => [m.seq, typeof m.content === 'string' ? m.content : m.type]);
    const list = await untilShown(
      page,
      what,
      (m) => m.length === stored.length && m.every((x, i) => x.seq === stored[i]?.seq),
    );
    assert.deepEqual(
      list.map((m) => [m.seq, m.text]),
      expected,
    );
    const ids = await page.$$eval('#messages li', (lis) => lis.map((li) => (li as HTMLElement).dataset.id));
    assert.equal(new Set(ids).size, ids.length, 'no message twice');
    return stored;
  };

  async function chatting(): Promise<{ shop: OpenPage; agent: OpenPage; conversation: string }> {
    const agent = await openPage(browser, courier, '/agent', undefined, allowed);
    await agentSignsIn(agent.page, ANN);
    const shop = await openPage(browser, courier, '/shop', undefined, allowed);
    const shopper = uniqueId('shopper-');
    await shopperSignsIn(shop.page, shopper);
    await typeAndSend(shop.page, 'Where is my order?');
    await untilShown(shop.page, 'the first message', (m) => m[0]?.seq === 1);
    const list = await courier.http<{ conversations: { id: string }[] }>(
      'GET',
      `/v1/users/${shopper}/conversations`,
    );
    const conversation = list.json.conversations[0]?.id ?? assert.fail('the shopper has a conversation');
    await sendAsAgent(conversation, 'Let me check.');
    await untilShown(shop.page, 'the reply', (m) => m.length === 2);
    return { shop, agent, conversation };
  }

  for (const how of ['drained (1012)', 'cut off like a crash'] as const) {
    it(`reconnects after the worker is ${how} and restarted, and shows every message once, in order`, async () => {
      const { shop, agent, conversation } = await chatting();
      const worker = courier.app.worker.id;
      const old = [courier.app.worker, ...restarted].at(-1) ?? assert.fail();

      // A burst in flight while the worker goes: some pushes make it, some are lost with the sockets.
      const burst = Promise.all([1, 2, 3, 4, 5].map((i) => sendAsAgent(conversation, `${how}: burst ${i}`)));
      if (how === 'drained (1012)') await old.drain(2_000);
      await old.close();
      await burst;
      await shop.page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: WAIT_MS });

      // While no worker runs: stored for later, and the shopper writes too (held as "Sending…").
      await sendAsAgent(conversation, `${how}: while down`);
      await typeAndSend(shop.page, `${how}: typed while offline`);
      await shop.page.locator('#messages li.pending').waitFor({ timeout: WAIT_MS });

      restarted.push(await courier.app.startWorker(worker));
      await connected(shop.page);
      await sendAsAgent(conversation, `${how}: after the restart`);
      const stored = await showsExactly(
        shop.page,
        conversation,
        'the whole conversation on the shopper page',
      );
      assert.equal(stored.length, 2 + 5 + 1 + 1 + 1);
      assert.equal(
        stored.filter((m) => m.content === `${how}: typed while offline`).length,
        1,
        'stored once',
      );

      await connected(agent.page);
      await agent.page.locator('button.conversation').first().click();
      await showsExactly(agent.page, conversation, 'the whole conversation on the agent console');
      if (how === 'drained (1012)') await screenshot(shop.page, 'web-shop-after-restart');
      for (const p of [shop, agent]) {
        assert.deepEqual(p.seen, { external: [], errors: [] });
        await p.context.close();
      }
    });
  }
  const restarted: Awaited<ReturnType<TestCourier['app']['startWorker']>>[] = [];
  // The restarted worker listens on a new port: the pages must find it through GET /v1/gateway.
  const allowed = () => [courier.baseUrl, courier.wsUrl, ...restarted.map((w) => w.node.ws)];
});
