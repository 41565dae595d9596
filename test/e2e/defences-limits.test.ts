// Rate limits and caps on a running all-in-one: HTTP requests per API key and per user token (429 with
// Retry-After), frames per second, frame size, pending un-ACKed messages per connection, and the time a
// client may take to finish its upgrade request.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

type Err = { error: { code: string; message: string } };

describe('HTTP rate limits', () => {
  let courier: TestCourier;
  before(async () => {
    // A token every 20 s: nothing refills while the test runs.
    courier = await TestCourier.start({
      ratelimit: { apiKey: { perSecond: 0.05, burst: 4 }, user: { perSecond: 0.05, burst: 3 } },
    });
  });
  after(() => courier.stop());

  const sign = async (uid: string) =>
    (await courier.app.tokens.sign({ uid, role: 'customer', platform: 'web' })).token;

  it('per user token: the burst passes, then 429 rate_limited with Retry-After; other users are unaffected', async () => {
    const [alice, bob] = [await sign(uniqueId('a')), await sign(uniqueId('b'))];
    for (let i = 0; i < 3; i++)
      assert.equal((await courier.http('GET', '/v1/gateway', undefined, alice)).status, 200);
    const limited = await courier.http<Err>('GET', '/v1/gateway', undefined, alice);
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, 'rate_limited');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 20, `Retry-After in whole seconds: ${retry}`);
    assert.equal((await courier.http('GET', '/v1/gateway', undefined, bob)).status, 200);
  });

  it('per API key, and a limited send stores nothing', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const body = { from: 'rl-a', to: 'rl-b', type: 'text', content: `m${i}` };
      statuses.push((await courier.http('POST', '/v1/messages', body)).status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    const history = await courier.app.tokens.sign({ uid: 'rl-a', role: 'customer', platform: 'web' });
    const res = await courier.http<{ messages: Message[] }>(
      'GET',
      `/v1/conversations/${encodeURIComponent('d:rl-a:rl-b')}/messages`,
      undefined,
      history.token,
    );
    assert.deepEqual(
      res.json.messages.map((m) => m.content),
      ['m0', 'm1', 'm2', 'm3'],
    );
  });
});

describe('per-connection caps', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({
      business: { openMessaging: true },
      worker: {
        maxFrameBytes: 2048,
        maxFramesPerSecond: 1,
        frameBurst: 10,
        maxPendingAcks: 3,
        handshakeTimeoutMs: 300,
      },
    });
  });
  after(() => courier.stop());

  it('a frame over maxFrameBytes closes the connection with 1009', async () => {
    const c = await courier.connect(uniqueId('big'));
    c.send({
      type: 'send',
      clientMsgId: 'big',
      message: { to: 'x', type: 'text', content: 'x'.repeat(4000) },
    });
    assert.equal((await c.closed).code, 1009);
  });

  it('frames over the rate get an error frame `rate_limited`, then close 4009', async () => {
    const c = await courier.connect(uniqueId('chatty'));
    for (let i = 0; i < 12; i++) c.send({ type: 'ping' });
    const closed = await c.closed;
    assert.equal(closed.code, 4009);
    assert.equal(c.pending('pong').length, 10, 'the burst was answered');
    assert.deepEqual(
      c.pending('error').map((f) => f.code),
      ['rate_limited'],
    );
  });

  it('a client that does not ACK is closed with 4008 at maxPendingAcks, and loses nothing', async () => {
    const uid = uniqueId('slow');
    const slow = await courier.connect(uid, 'web', { ack: false });
    for (let i = 0; i < 4; i++) {
      const res = await courier.http('POST', '/v1/messages', {
        from: 'feeder',
        to: uid,
        type: 'text',
        content: `n${i}`,
      });
      assert.equal(res.status, 200, 'stored whatever the receiver does');
    }
    assert.equal((await slow.closed).code, 4008);
    assert.equal(slow.pending('message').length, 3, 'the fourth was not pushed to a full connection');
    const again = await courier.connect(uid);
    again.send({ type: 'sync', conversation: `d:feeder:${uid}`, after: 0 });
    const sync = await again.next('sync');
    assert.deepEqual(
      sync.messages.map((m) => m.content),
      ['n0', 'n1', 'n2', 'n3'],
    );
  });

  it('a socket that never finishes its upgrade request is dropped after handshakeTimeoutMs', async () => {
    const { port } = new URL(courier.wsUrl);
    const started = Date.now();
    const silent = await openSocket(Number(port));
    const partial = await openSocket(Number(port));
    partial.write('GET /ws?token=x HTTP/1.1\r\nHost: worker\r\n'); // never the final blank line
    await Promise.all([closedSocket(silent), closedSocket(partial)]);
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 5_000, `dropped after ${took} ms`);
  });

  it('a well-behaved client is unaffected by the caps', async () => {
    const uid = uniqueId('calm');
    const c = await courier.connect(uid);
    for (let i = 0; i < 5; i++) {
      c.send({ type: 'ping' });
      await c.next('pong');
    }
    const res = await courier.http<{ id: string }>('POST', '/v1/messages', {
      from: 'x',
      to: uid,
      type: 'text',
      content: 'hi',
    });
    assert.equal((await c.next('message')).message.id, res.json.id);
    assert.equal(c.ws.readyState, c.ws.OPEN);
    c.ws.close();
  });
});

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closedSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => undefined); // a reset counts as dropped too
    socket.resume(); // the 408 the server may write before closing
    socket.once('close', () => resolve());
  });
}
