// The client SDK in Node (with the `ws` package) against a real all-in-one: sends retried with the same
// clientMsgId across forced reconnects reach the receiver once and in order, and an expiring token is
// renewed through the callback when the worker closes with 4001.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CourierClient, type ClientState, type Message } from '../../internal/client/index.js';
import { CloseCode } from '../../internal/protocol/frames.js';
import { TestCourier } from '../support/courier.js';
import { uniqueId, waitFor } from '../support/servers.js';

describe('client SDK against a real all-in-one', { timeout: 60_000 }, () => {
  let courier: TestCourier;
  const clients: CourierClient[] = [];
  before(async () => {
    courier = await TestCourier.start({ business: { openMessaging: true } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await courier.stop();
  });

  const tokenFor = async (uid: string, ttlSeconds?: number) => {
    const res = await courier.http<{ token: string; expiresAt: number }>('POST', '/v1/tokens', {
      uid,
      role: 'customer',
      platform: 'web',
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json;
  };

  const client = async (uid: string, options: { ttlSeconds?: number } = {}) => {
    const c = new CourierClient({
      baseUrl: courier.baseUrl,
      token: await tokenFor(uid, options.ttlSeconds),
      refreshToken: () => tokenFor(uid, options.ttlSeconds),
      WebSocket,
      reconnect: { initialMs: 50, maxMs: 500 },
      drainJitterMs: 20,
    });
    clients.push(c);
    return c;
  };

  it('delivers every send exactly once, in order, while the worker keeps dropping both sides', async () => {
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const sender = await client(alice);
    const receiver = await client(bob);
    const got: Message[] = [];
    receiver.on('message', (m) => got.push(m));
    await Promise.all([sender.connect(), receiver.connect()]);

    const sends: Promise<Message>[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) sends.push(sender.send({ to: bob }, 'text', `m${round * 10 + i}`));
      // Once the round's first answer is back, the rest are somewhere between the two clients: the worker
      // closes every connection, and the sender resends what is unanswered with the same clientMsgIds.
      await sends[round * 10];
      courier.app.worker.gateway.closeAll(CloseCode.draining, 'test: drop everyone');
    }
    const results = await Promise.all(sends);
    assert.deepEqual(
      results.map((m) => m.content),
      Array.from({ length: 30 }, (_, i) => `m${i}`),
    );
    const conversation = results[0]?.conversation ?? assert.fail();
    const stored = await courier.http<{ messages: Message[] }>(
      'GET',
      `/v1/conversations/${encodeURIComponent(conversation)}/messages?limit=500`,
    );
    assert.equal(stored.json.messages.length, 30, 'each clientMsgId stored once');
    await waitFor('the receiver to have every message', () => got.length >= 30);
    assert.deepEqual(
      got.map((m) => m.seq),
      stored.json.messages.map((m) => m.seq),
      'the receiver saw each stored message once, in seq order',
    );
    assert.equal(new Set(got.map((m) => m.id)).size, 30);
  });

  it('sending an already answered clientMsgId again gives the first message and delivers nothing', async () => {
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const sender = await client(alice);
    const receiver = await client(bob);
    const got: Message[] = [];
    receiver.on('message', (m) => got.push(m));
    await Promise.all([sender.connect(), receiver.connect()]);
    const first = await sender.send({ to: bob }, 'text', 'once', { clientMsgId: 'same-id' });
    const again = await sender.send({ to: bob }, 'text', 'once', { clientMsgId: 'same-id' });
    assert.equal(again.id, first.id);
    const marker = await sender.send({ to: bob }, 'text', 'after');
    await waitFor('the marker message', () => got.some((m) => m.id === marker.id));
    assert.deepEqual(
      got.map((m) => m.content),
      ['once', 'after'],
    );
  });

  it('serves the pages, but no demo sign-in unless business.demoLogin is on (it is off by default)', async () => {
    const page = await fetch(`${courier.baseUrl}/shop`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/assets\/shop.js">/);
    const demo = await courier.http('POST', '/demo/token', { uid: 'mallory', role: 'agent' }, null);
    assert.equal(demo.status, 404);
    assert.equal((await fetch(`${courier.baseUrl}/demo/info`)).status, 404);
  });

  it('renews an expiring token through the callback and reconnects after 4001', async () => {
    const uid = uniqueId('carol');
    const c = await client(uid, { ttlSeconds: 2 });
    const states: ClientState[] = [];
    c.on('state', (s) => states.push(s));
    await c.connect();
    const first = c.connection?.connId;
    // The worker closes the socket with 4001 when the connect-time token expires (2 s); the client has a
    // fresh token by then and is back at once.
    await waitFor(
      'a reconnect after the token expired',
      () => states.filter((s) => s === 'open').length >= 2,
      10_000,
    );
    assert.notEqual(c.connection?.connId, first);
    assert.equal(c.state, 'open');
    const peer = await client(uniqueId('dave'));
    await peer.connect();
    const got: Message[] = [];
    c.on('message', (m) => got.push(m));
    await peer.send({ to: uid }, 'text', 'still reachable');
    await waitFor('the message on the renewed connection', () => got.length === 1);
  });
});
