// The client SDK's sends and connection life against a scripted fake server: clientMsgId retries, backoff
// timing with an injected random and clock, close codes, token refresh and the client heartbeat.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../internal/client/backoff.js';
import { CourierClientError } from '../../internal/client/errors.js';
import { fakeClient, msg, settle } from './client-sdk-fakes.js';

const sent = (seq: number) => ({ ...msg(seq, 'd:u1:u2', 'u1'), to: ['u2'] });

describe('client SDK: sending', () => {
  it('retries with the same clientMsgId until `sent` arrives, across timeouts and a reconnect', async () => {
    const t = fakeClient({ sendTimeoutMs: 5_000 });
    const first = await t.open();
    const result = t.client.send({ to: 'u2' }, 'text', 'hello', { clientMsgId: 'c-1' });
    await t.clock.advance(5_000); // no answer: the same frame again
    const frames = first.frames('send');
    assert.equal(frames.length, 2);
    assert.deepEqual(frames[0], frames[1]);
    assert.deepEqual(frames[0], {
      type: 'send',
      clientMsgId: 'c-1',
      message: { to: 'u2', type: 'text', content: 'hello' },
    });
    first.drop(1006);
    await t.clock.advance(1_000);
    const second = t.last();
    second.accept();
    assert.deepEqual(second.frames('send'), [frames[0]], 'resent on the new connection, same id');
    second.push({ type: 'sent', clientMsgId: 'c-1', message: sent(1) });
    second.push({ type: 'sent', clientMsgId: 'c-1', message: sent(1) }); // the answer to an earlier copy
    assert.equal((await result).id, 'd:u1:u2#1');
    assert.equal(t.received.length, 1, 'the own message is emitted once, in its place in the conversation');
    await t.clock.advance(60_000);
    assert.equal(second.frames('send').length, 1, 'nothing resent once answered');
  });

  it('tags the own message event with its clientMsgId and orders it after what came before', async () => {
    const t = fakeClient();
    const socket = await t.open();
    const infos: unknown[] = [];
    t.client.on('message', (m, info) => infos.push([m.seq, info]));
    socket.push({ type: 'message', message: msg(1) });
    const result = t.client.send({ conversation: 'd:u1:u2' }, 'text', 'hi', { clientMsgId: 'c-9' });
    socket.push({ type: 'sent', clientMsgId: 'c-9', message: sent(3) }); // seq 2 is still on its way
    socket.push({ type: 'message', message: msg(2) });
    await result;
    assert.deepEqual(infos, [
      [1, {}],
      [2, {}],
      [3, { clientMsgId: 'c-9' }],
    ]);
  });

  it('retries after a retryable error frame and rejects on a final one', async () => {
    const t = fakeClient();
    const socket = await t.open();
    const retried = t.client.send({ to: 'u2' }, 'text', 'a', { clientMsgId: 'c-a' });
    const refused = t.client.send({ to: 'u2' }, 'text', 'b', { clientMsgId: 'c-b' });
    socket.push({
      type: 'error',
      code: 'unavailable',
      message: 'business is unavailable, retry',
      ref: 'c-a',
    });
    socket.push({ type: 'error', code: 'content_rejected', message: 'no', ref: 'c-b' });
    await assert.rejects(
      refused,
      (e: unknown) => e instanceof CourierClientError && e.code === 'content_rejected',
    );
    await t.clock.advance(250);
    assert.deepEqual(
      socket.frames('send').map((f) => f.clientMsgId),
      ['c-a', 'c-b', 'c-a'],
    );
    socket.push({ type: 'sent', clientMsgId: 'c-a', message: sent(1) });
    await retried;
    assert.deepEqual(t.errors, [], 'send errors reject the send; they are not also emitted');
  });

  it('rejects pending sends when closed', async () => {
    const t = fakeClient();
    await t.open();
    const pending = t.client.send({ to: 'u2' }, 'text', 'x');
    t.client.close();
    await assert.rejects(pending, (e: unknown) => (e as CourierClientError).code === 'closed');
    assert.equal(t.client.state, 'closed');
  });
});

describe('client SDK: connection', () => {
  it('backs off exponentially with jitter between failed attempts, and resets after a success', async () => {
    const random = [0, 0.999, 0.5, 0, 0, 0];
    const b = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => random.shift() ?? 0);
    assert.deepEqual(
      [b.next(), b.next(), b.next(), b.next(), b.next()],
      [50, 200, 300, 400, 500], // base 100, 200, 400, 800, 1000 (capped); delay in [base/2, base)
    );
    b.reset();
    assert.equal(b.next(), 50);
    assert.throws(() => new Backoff({ initialMs: 0 }), /initialMs/);

    const t = fakeClient({
      reconnect: { initialMs: 100, maxMs: 1_000 },
      random: () => 0,
      gateway: [
        { status: 503, body: { error: { code: 'unavailable', message: 'no worker' } } },
        'network-error',
      ],
    });
    void t.client.connect();
    await t.clock.advance(0);
    await t.clock.advance(50 + 100);
    const [a, b2, c] = t.gatewayCalls.map((g) => g.at);
    assert.deepEqual(
      [(b2 ?? 0) - (a ?? 0), (c ?? 0) - (b2 ?? 0)],
      [50, 100],
      'delays 50 then 100 (random 0)',
    );
    t.last().drop(1006); // never opened: a failure too
    await t.clock.advance(200);
    assert.equal(t.gatewayCalls.length, 4);
    assert.deepEqual(t.states, ['connecting']);
    t.last().accept();
    t.last().drop(1006);
    await t.clock.advance(50);
    assert.equal(t.gatewayCalls.length, 5, 'back to the first delay after an open');
    assert.deepEqual(t.states, ['connecting', 'open', 'reconnecting']);
  });

  it('reconnects at once through the gateway on 1012 and after 4008', async () => {
    const t = fakeClient({ drainJitterMs: 100, random: () => 0.5, reconnect: { initialMs: 1_000 } });
    await t.open();
    t.last().drop(1012, 'server draining');
    await t.clock.advance(50);
    assert.equal(t.gatewayCalls.length, 2, '1012: within the drain jitter, not the backoff');
    t.last().accept();
    t.last().drop(4008);
    await t.clock.advance(750);
    assert.equal(t.gatewayCalls.length, 3);
    assert.equal(t.sockets.length, 3);
  });

  it('stops on 4003 (banned) and on a 403 from the gateway, with an error', async () => {
    const t = fakeClient();
    await t.open();
    t.last().drop(4003, 'banned');
    await t.clock.advance(60_000);
    assert.equal(t.client.state, 'closed');
    assert.equal(t.gatewayCalls.length, 1, 'no reconnect');
    assert.deepEqual(
      t.errors.map((e) => e.code),
      ['banned'],
    );

    const refused = fakeClient({
      gateway: [{ status: 403, body: { error: { code: 'blacklisted', message: 'no' } } }],
    });
    await assert.rejects(
      refused.client.connect(),
      (e: unknown) => (e as CourierClientError).code === 'banned',
    );
    assert.equal(refused.client.state, 'closed');
  });

  it('refreshes the token before it expires, and on 4001 and 401 before reconnecting', async () => {
    let n = 1;
    const t = fakeClient({
      token: { token: 'token-1', expiresAt: 1_700_000_000_000 + 120_000 },
      refreshBeforeMs: 60_000,
      refreshToken: async () => ({ token: `token-${++n}`, expiresAt: 1_700_000_000_000 + 10_000_000 }),
      gateway: [
        { status: 200, body: { url: 'ws://w/ws' } },
        { status: 401, body: { error: { code: 'token_expired', message: 'expired' } } },
      ],
    });
    await t.open('u1', 3_600); // a heartbeat longer than the test, so only the token timer runs
    await t.clock.advance(60_000);
    assert.equal(n, 2, 'refreshed 60 s before expiry');
    t.last().drop(4001, 'token expired');
    await t.clock.advance(0);
    // 4001 refreshed (token-3); the gateway then refused token-3 with 401: refreshed again, straight back.
    assert.equal(n, 4);
    assert.deepEqual(
      t.gatewayCalls.map((c) => [c.at - 1_700_000_000_000, c.token]),
      [
        [0, 'Bearer token-1'],
        [60_000, 'Bearer token-3'],
        [60_000, 'Bearer token-4'],
      ],
    );
    assert.match(t.last().url, /token=token-4/);
    t.last().accept();
    assert.equal(t.client.state, 'open');
  });

  it('stops with an error when a token expires and there is no refresh callback', async () => {
    const t = fakeClient();
    await t.open();
    t.last().drop(4001, 'token expired');
    await settle();
    assert.equal(t.client.state, 'closed');
    assert.deepEqual(
      t.errors.map((e) => e.code),
      ['unauthorized'],
    );
  });

  it('pings after a heartbeat of silence and gives the connection up after another', async () => {
    const t = fakeClient({ reconnect: { initialMs: 100 } });
    const socket = await t.open('u1', 2);
    await t.clock.advance(2_000);
    assert.deepEqual(socket.frames('ping'), [{ type: 'ping' }]);
    socket.push({ type: 'pong' });
    await t.clock.advance(2_000);
    assert.equal(socket.frames('ping').length, 2, 'the pong re-armed it');
    await t.clock.advance(2_000);
    assert.equal(socket.closedByClient, 4000);
    assert.equal(t.client.state, 'reconnecting');
    await t.clock.advance(100);
    assert.equal(t.sockets.length, 2);
  });
});
