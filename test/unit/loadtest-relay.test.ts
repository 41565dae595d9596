// The relay of scripts/loadtest/peers/relay-server.ts, the floor `bench --floor` measures: it must speak
// enough of courier's contract for `push --target courier` (gateway, sends, welcome / message / ack frames)
// and refuse what it cannot use with an answer rather than a crash.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { floorLine } from '../../scripts/loadtest/bench.js';
import { startRelay, subject, type Relay } from '../../scripts/loadtest/peers/relay-server.js';

const token = (claims: object) =>
  `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature-not-checked`;

type Frame = { type: string; [k: string]: unknown };

/** Queues a socket's frames from the start, so none is missed between two awaits. */
function frames(ws: WebSocket): () => Promise<Frame> {
  const queue: Frame[] = [];
  const waiting: Array<(f: Frame) => void> = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    const take = waiting.shift();
    if (take) take(frame);
    else queue.push(frame);
  });
  return () => {
    const frame = queue.shift();
    return frame ? Promise.resolve(frame) : new Promise((resolve) => waiting.push(resolve));
  };
}

describe('loadtest relay (the floor)', { timeout: 30_000 }, () => {
  let url = '';
  let relay: Relay;
  let stop: () => Promise<void>;
  before(async () => {
    ({ url, relay, stop } = await startRelay({ host: '127.0.0.1', port: 0 }));
  });
  after(() => stop());

  const post = async (path: string, body: string) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('relays a single and a batch send to every connection of the receiver and counts their ACKs', async () => {
    const gateway = (await (await fetch(`${url}/v1/gateway`)).json()) as { url: string };
    const open = async () => {
      const ws = new WebSocket(`${gateway.url}?token=${token({ sub: 'bob' })}`);
      const next = frames(ws);
      const welcome = await next();
      assert.equal(welcome.type, 'welcome');
      assert.equal(welcome.uid, 'bob');
      return { ws, next };
    };
    const [phone, web] = [await open(), await open()];
    try {
      const single = await post('/v1/messages', '{"from":"al","to":"bob","type":"custom","content":{"k":1}}');
      assert.equal(single.status, 200);
      assert.equal(single.body.delivered, 2);
      for (const frame of [await phone.next(), await web.next()]) {
        assert.equal(frame.type, 'message');
        assert.deepEqual((frame.message as { content: unknown }).content, { k: 1 });
        assert.equal((frame.message as { id: unknown }).id, single.body.id);
      }
      const batch = await post(
        '/v1/messages/batch',
        '{"messages":[{"from":"al","to":"bob","type":"t","content":2},{"from":"al","to":"","type":"t","content":3}]}',
      );
      assert.equal(batch.status, 200);
      const results = batch.body.results as Array<Record<string, unknown>>;
      assert.equal(results[0]?.delivered, 2);
      assert.deepEqual(results[1], { error: { code: 'invalid_request', message: 'to: required' } });
      const second = (await phone.next()).message as { id: string };
      const acked = relay.counts.acked;
      phone.ws.send(JSON.stringify({ type: 'ack', ids: [single.body.id, second.id, 'never-sent'] }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(relay.counts.acked, acked + 2);
      assert.equal(relay.counts.unknownAcks, 1);
      phone.ws.send(JSON.stringify({ type: 'ack', ids: [second.id] })); // settled already: not counted again
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual([relay.counts.acked, relay.counts.unknownAcks], [acked + 2, 2]);
    } finally {
      phone.ws.close();
      web.ws.close();
    }
  });

  it('answers bad input with an error instead of failing', async () => {
    assert.equal((await post('/v1/messages', '{not json')).status, 400);
    assert.equal((await post('/v1/messages', '[1]')).status, 400);
    assert.equal((await post('/v1/messages/batch', 'null')).status, 400);
    assert.equal((await fetch(`${url}/v1/nothing`)).status, 404);
    const refused = new WebSocket(`${url.replace('http', 'ws')}/ws?token=not-a-jwt`);
    refused.on('error', () => undefined); // ws reports the refused upgrade as an error too
    const status = await new Promise((resolve) =>
      refused.once('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      }),
    );
    assert.equal(status, 401);
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?token=${token({ sub: 'carol' })}`);
    const next = frames(ws);
    await next();
    ws.send('{oops');
    assert.equal((await next()).code, 'bad_frame');
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.send(Buffer.from([1, 2]), { binary: true });
    assert.equal(await closed, 1003);
    // Still relaying after all that.
    assert.equal((await post('/v1/messages', '{"from":"a","to":"b","type":"t","content":1}')).status, 200);
  });

  it('reads the uid from the token and nothing else', () => {
    assert.equal(subject(token({ sub: 'u1', role: 'agent' })), 'u1');
    assert.equal(subject(token({ sub: '' })), undefined);
    assert.equal(subject(token({ uid: 'u1' })), undefined);
    assert.equal(subject('onlyone'), undefined);
    assert.equal(subject('a.%%%.c'), undefined);
  });

  it("says each system's share of the floor and whether twice the peer fits under it", () => {
    const cap = {
      name: 'http: delivered/s at capacity',
      better: 'higher' as const,
      courier: 8000,
      socketio: 11_000,
    };
    assert.equal(
      floorLine('http', 20_000, cap, ''),
      'floor http: a relay that stores and checks nothing delivered 20,000 msg/s; courier 40 % of it, ' +
        'Socket.IO 55 %; twice Socket.IO would be 110 %, above what a server that does nothing reaches here',
    );
    assert.equal(
      floorLine('batch', 80_000, { ...cap, socketio: null }, ' (median of 3 runs)'),
      'floor batch: a relay that stores and checks nothing delivered 80,000 msg/s (median of 3 runs); ' +
        'courier 10 % of it, Socket.IO —',
    );
    assert.equal(floorLine('batch', null, cap, ''), 'floor batch: the relay delivered nothing');
  });
});
