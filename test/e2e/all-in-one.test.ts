// The whole path on the embedded defaults: HTTP/WebSocket in → business → dispatcher → worker → WebSocket out
// (in-process calls between the roles, see all-in-one-in-process.test.ts), with ACKs, resends, sync and
// idempotency, against a real all-in-one. processes.test.ts runs the same path over the real HTTP/gRPC hops.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestClient, TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

const ACK_TIMEOUT_MS = 200;
const ACK_RETRIES = 2;

describe('all-in-one message path', () => {
  let courier: TestCourier;
  before(async () => {
    // The transport path, not the chat rules (business-rules.test.ts): customers may write to anyone here.
    courier = await TestCourier.start({
      worker: { ackTimeoutMs: ACK_TIMEOUT_MS, ackRetries: ACK_RETRIES },
      business: { openMessaging: true },
    });
  });
  after(() => courier.stop());

  const send = (body: Record<string, unknown>) =>
    courier.http<Record<string, unknown>>('POST', '/v1/messages', { type: 'text', ...body });

  it('delivers an HTTP message to every device of the receiver and to the sender’s devices', async () => {
    const alice = uniqueId('alice');
    const bob = uniqueId('bob');
    const devices = [
      await courier.connect(alice, 'web'),
      await courier.connect(alice, 'app'),
      await courier.connect(alice, 'web'),
    ];
    const bobPhone = await courier.connect(bob, 'app');
    assert.equal(
      new Set(devices.map((d) => d.welcome.connId)).size,
      3,
      'each device has its own connection id',
    );
    assert.match(devices[1]!.welcome.connId, /^customer:app:/);

    const res = await send({ from: bob, to: alice, content: 'hi alice' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.delivered, 4, 'three of alice’s devices and bob’s phone');
    assert.deepEqual(res.json.to, [alice]);
    for (const device of [...devices, bobPhone]) {
      const frame = await device.next('message');
      assert.equal(frame.message.id, res.json.id);
      assert.equal(frame.message.content, 'hi alice');
      assert.equal(frame.message.from, bob);
      assert.equal(frame.message.seq, 1);
    }
  });

  it('sends over WebSocket through business: `sent` to the sender, `message` to everyone else', async () => {
    const alice = uniqueId('alice');
    const bob = uniqueId('bob');
    const [aliceWeb, aliceApp] = [await courier.connect(alice, 'web'), await courier.connect(alice, 'app')];
    const bobWeb = await courier.connect(bob, 'web');

    aliceWeb.send({
      type: 'send',
      clientMsgId: 'c1',
      message: { to: bob, type: 'text', content: 'from the browser' },
    });
    const sent = await aliceWeb.next('sent');
    assert.equal(sent.clientMsgId, 'c1');
    assert.equal(sent.message.seq, 1);
    assert.equal((await bobWeb.next('message')).message.id, sent.message.id);
    assert.equal(
      (await aliceApp.next('message')).message.id,
      sent.message.id,
      'the sender’s other device sees it',
    );

    // The origin connection gets no `message` copy of its own send: check after a later message arrives.
    aliceWeb.send({ type: 'send', clientMsgId: 'c2', message: { to: bob, type: 'text', content: 'second' } });
    await aliceWeb.next('sent');
    await bobWeb.next('message');
    assert.equal(aliceWeb.pending('message').length, 0);

    const history = await courier.http<{ messages: Message[] }>(
      'GET',
      `/v1/conversations/${encodeURIComponent(sent.message.conversation)}/messages`,
    );
    assert.deepEqual(
      history.json.messages.map((m) => [m.seq, m.content]),
      [
        [1, 'from the browser'],
        [2, 'second'],
      ],
    );
  });

  it('answers a bad send frame with an error that names the clientMsgId, and stores nothing', async () => {
    const alice = uniqueId('alice');
    const aliceWeb = await courier.connect(alice, 'web');
    aliceWeb.send({
      type: 'send',
      clientMsgId: 'bad-1',
      message: { to: alice, type: 'text', content: 'to myself' },
    });
    const error = await aliceWeb.next('error');
    assert.equal(error.ref, 'bad-1');
    assert.equal(error.code, 'invalid_request');
    aliceWeb.send({
      type: 'send',
      clientMsgId: 'bad-2',
      message: { to: 'someone', type: 'image', content: { url: 'nope' } },
    });
    const typed = await aliceWeb.next('error');
    assert.equal(typed.ref, 'bad-2');
    assert.match(typed.message, /content\.url/);
  });

  it('stops resending once the client ACKs', async () => {
    const alice = uniqueId('alice');
    const device = await courier.connect(alice, 'web'); // ACKs every message
    const res = await send({ from: uniqueId('shop'), to: alice, content: 'ack me' });
    assert.equal((await device.next('message')).message.id, res.json.id);
    // Absence of a resend can only be seen by waiting past every deadline a resend could have had.
    await new Promise((r) => setTimeout(r, ACK_TIMEOUT_MS * (ACK_RETRIES + 2)));
    assert.equal(device.pending('message').length, 0);
    assert.equal(device.ws.readyState, device.ws.OPEN);
  });

  it('resends an un-ACKed message ackRetries times, then closes with 4008', async () => {
    const alice = uniqueId('alice');
    const silent = await courier.connect(alice, 'app', { ack: false });
    const started = Date.now();
    const res = await send({ from: uniqueId('shop'), to: alice, content: 'will you ack?' });
    const copies = [await silent.next('message')];
    for (let i = 0; i < ACK_RETRIES; i++) copies.push(await silent.next('message', ACK_TIMEOUT_MS * 10));
    assert.ok(
      copies.every((f) => f.message.id === res.json.id),
      'every copy is the same message',
    );
    const closed = await silent.closed;
    assert.equal(closed.code, 4008);
    assert.ok(
      Date.now() - started >= ACK_TIMEOUT_MS * (ACK_RETRIES + 1),
      'not closed before the last deadline',
    );
    assert.equal(silent.pending('message').length, 0, 'no more than ackRetries resends');
  });

  it('syncs exactly the messages missed while offline, by seq', async () => {
    const alice = uniqueId('alice');
    const bob = uniqueId('bob');
    let bobWeb = await courier.connect(bob, 'web');
    const first = await send({ from: alice, to: bob, content: 'm1' });
    const seen = (await bobWeb.next('message')).message;
    await bobWeb.close();

    const missed = [];
    for (const content of ['m2', 'm3', 'm4'])
      missed.push((await send({ from: alice, to: bob, content })).json);
    assert.ok(
      missed.every((m) => m.delivered === 0),
      'nobody online to hand them to',
    );

    bobWeb = await courier.connect(bob, 'web');
    bobWeb.send({ type: 'sync', conversation: first.json.conversation, after: seen.seq, limit: 50 });
    const sync = await bobWeb.next('sync');
    assert.equal(sync.hasMore, false);
    assert.deepEqual(
      sync.messages.map((m) => [m.seq, m.content]),
      [
        [2, 'm2'],
        [3, 'm3'],
        [4, 'm4'],
      ],
    );
    bobWeb.send({ type: 'sync', conversation: first.json.conversation, after: 1, limit: 2 });
    const page = await bobWeb.next('sync');
    assert.equal(page.messages.length, 2);
    assert.equal(page.hasMore, true);
  });

  it('gives the first result for a repeated clientMsgId, over HTTP and WebSocket, and delivers once', async () => {
    const alice = uniqueId('alice');
    const bob = uniqueId('bob');
    const bobWeb = await courier.connect(bob, 'web');
    const body = { from: alice, to: bob, content: 'once', clientMsgId: 'dup-1' };
    const answers = await Promise.all([send(body), send(body), send(body)]);
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(new Set(answers.map((a) => a.json.id)).size, 1, 'one message id for every repeat');
    const again = await send(body);
    assert.equal(again.json.id, answers[0]!.json.id);
    assert.equal(again.json.seq, answers[0]!.json.seq);

    const aliceWeb = await courier.connect(alice, 'web');
    aliceWeb.send({
      type: 'send',
      clientMsgId: 'dup-2',
      message: { to: bob, type: 'text', content: 'ws once' },
    });
    aliceWeb.send({
      type: 'send',
      clientMsgId: 'dup-2',
      message: { to: bob, type: 'text', content: 'ws once' },
    });
    const [s1, s2] = [await aliceWeb.next('sent'), await aliceWeb.next('sent')];
    assert.equal(s1.message.id, s2.message.id);

    const history = await courier.http<{ messages: Message[] }>(
      'GET',
      `/v1/conversations/${encodeURIComponent(String(answers[0]!.json.conversation))}/messages`,
    );
    assert.deepEqual(
      history.json.messages.map((m) => m.content),
      ['once', 'ws once'],
      'each clientMsgId stored once',
    );
    const received = [await bobWeb.next('message'), await bobWeb.next('message')];
    assert.deepEqual(
      received.map((f) => f.message.content),
      ['once', 'ws once'],
    );
    // A third frame would be a duplicate delivery; the sync above proves the store, this proves the push.
    await aliceWeb.next('sent').then(
      () => assert.fail('no third sent'),
      () => undefined,
    );
    assert.equal(bobWeb.pending('message').length, 0);
  });

  it('numbers a conversation 1..n without gaps under concurrent sends, batch order kept', async () => {
    const alice = uniqueId('alice');
    const bob = uniqueId('bob');
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => send({ from: alice, to: bob, content: `c${i}` })),
    );
    const seqs = answers.map((a) => Number(a.json.seq)).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const batch = await courier.http<{ results: { seq: number; error?: unknown }[] }>(
      'POST',
      '/v1/messages/batch',
      {
        messages: [
          { from: bob, to: alice, type: 'text', content: 'b1' },
          { from: bob, to: alice, type: 'text', content: 'b2' },
          { from: bob, type: 'text', content: 'no target' },
          { from: bob, to: alice, type: 'text', content: 'b3' },
        ],
      },
    );
    assert.equal(batch.status, 200);
    const [r1, r2, r3, r4] = batch.json.results;
    assert.deepEqual([r1?.seq, r2?.seq, r4?.seq], [41, 42, 43]);
    assert.equal((r3?.error as { code: string }).code, 'invalid_request');
  });
});

describe('all-in-one refusals', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({ business: { maxMessageBytes: 1024 } });
  });
  after(() => courier.stop());

  it('401 without credentials, with a bad key, and with a forged token', async () => {
    const body = { from: 'a', to: 'b', type: 'text', content: 'x' };
    assert.equal((await courier.http('POST', '/v1/messages', body, null)).status, 401);
    const bad = await courier.http<{ error: { code: string } }>('POST', '/v1/messages', body, 'not-a-key');
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, 'unauthorized');
    const token = await courier.token('a');
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await courier.http('POST', '/v1/messages', body, forged)).status, 401);
  });

  it('refuses a WebSocket with a bad or missing token before the upgrade (401)', async () => {
    for (const token of ['garbage', '']) {
      const refused = await TestClient.open(courier.wsUrl, token).then(
        () => 0,
        (e: { status?: number }) => e.status,
      );
      assert.equal(refused, 401);
    }
  });

  it('400 with the offending field for invalid messages', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ from: 'a', type: 'text', content: 'x' }, 'to'],
      [{ from: 'a', to: 'b', merchant: 'm', type: 'text', content: 'x' }, 'merchant'],
      [{ from: 'a', to: 'b', type: 'video', content: 'x' }, 'type'],
      [
        {
          from: 'a',
          to: 'b',
          type: 'product',
          content: { productId: 'p1', title: 't', price: 5, url: 'https://x', image: 7 },
        },
        'content.image',
      ],
      [{ from: 'a', to: 'b', type: 'text', content: 'x', colour: 'red' }, 'colour'],
      [{ to: 'b', type: 'text', content: 'x' }, 'from'],
      [{ from: 'a b', to: 'b', type: 'text', content: 'x' }, 'from'],
    ];
    for (const [body, field] of cases) {
      const res = await courier.http<{ error: { code: string; field: string } }>(
        'POST',
        '/v1/messages',
        body,
      );
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error.field, field, JSON.stringify(res.json));
    }
    const malformed = await courier.http<{ error: { code: string } }>('POST', '/v1/messages', '{"from":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.code, 'invalid_json');
    const history = await courier.http('GET', '/v1/conversations/x/messages?limit=100000');
    assert.equal(history.status, 400);
  });

  it('413 for content over maxMessageBytes, and nothing stored', async () => {
    const res = await courier.http<{ error: { code: string; field: string } }>('POST', '/v1/messages', {
      from: 'big-a',
      to: 'big-b',
      type: 'text',
      content: 'x'.repeat(2000),
    });
    assert.equal(res.status, 413);
    assert.equal(res.json.error.code, 'too_large');
    const history = await courier.http(
      'GET',
      `/v1/conversations/${encodeURIComponent('d:big-a:big-b')}/messages`,
    );
    assert.equal(history.status, 404, 'the conversation was never created');
  });

  it('403 when a user token sends as someone else or reads a conversation it is not in', async () => {
    const token = await courier.token('mallory');
    const spoof = await courier.http(
      'POST',
      '/v1/messages',
      { from: 'alice', to: 'bob', type: 'text', content: 'x' },
      token,
    );
    assert.equal(spoof.status, 403);
    const ok = await courier.http<{ conversation: string }>('POST', '/v1/messages', {
      from: 'alice',
      to: 'bob',
      type: 'text',
      content: 'x',
    });
    const peek = await courier.http(
      'GET',
      `/v1/conversations/${encodeURIComponent(ok.json.conversation)}/messages`,
      undefined,
      token,
    );
    assert.equal(peek.status, 403);
  });
});
