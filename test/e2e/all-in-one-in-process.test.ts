// With node.inProcessHops the all-in-one's roles call each other in-process: business → dispatcher,
// dispatcher → worker and worker → business carry nothing over HTTP or gRPC, while every role still serves
// its ports (without it, the default, every other all-in-one test goes over the real hops). The same chat between
// separately started roles goes over the real hops (as in test/cluster). A worker of the all-in-one that
// stopped is treated like a dead worker elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestClient, TestCourier } from '../support/courier.js';
import { scrape, valueOf } from '../support/prometheus.js';
import { business, dispatcher, roleSet, worker, workerHttp, type RoleSet } from '../support/roles.js';
import { uniqueId } from '../support/servers.js';

/** WebSocket send, sync, read and a refused send between two users: what the worker asks of business. */
async function chat(connect: (uid: string) => Promise<TestClient>, before?: () => Promise<void>) {
  const alice = uniqueId('alice');
  const bob = uniqueId('bob');
  const aliceWeb = await connect(alice);
  const bobWeb = await connect(bob);
  await before?.();
  aliceWeb.send({ type: 'send', clientMsgId: 'p-1', message: { to: bob, type: 'text', content: 'hello' } });
  const sent = await aliceWeb.next('sent');
  assert.equal(sent.message.seq, 1);
  assert.equal((await bobWeb.next('message')).message.id, sent.message.id);

  bobWeb.send({ type: 'sync', conversation: sent.message.conversation, after: 0, limit: 10 });
  const sync = await bobWeb.next('sync');
  assert.deepEqual(
    sync.messages.map((m: Message) => m.content),
    ['hello'],
  );
  bobWeb.send({ type: 'read', conversation: sent.message.conversation, seq: 1 });
  const read = await aliceWeb.next('read');
  assert.deepEqual([read.uid, read.seq], [bob, 1]);

  // Business' rules answer either way: a refusal names the clientMsgId.
  aliceWeb.send({ type: 'send', clientMsgId: 'p-2', message: { to: alice, type: 'text', content: 'me' } });
  const refused = await aliceWeb.next('error');
  assert.deepEqual([refused.code, refused.ref], ['invalid_request', 'p-2']);
  for (const client of [aliceWeb, bobWeb]) client.ws.terminate();
}

describe('all-in-one in-process hops', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({ node: { inProcessHops: true }, business: { openMessaging: true } });
  });
  after(() => courier?.stop());

  it('serves WebSocket clients after business and dispatcher stopped serving HTTP, with no gRPC stream', async () => {
    await chat(
      (uid) => courier.connect(uid),
      async () => {
        // Both leave discovery and close their HTTP servers: a worker's uplink and business' dispatch calls
        // could no longer reach them over HTTP.
        await courier.app.dispatcher.drain(0);
        await courier.app.business.drain(0);
        for (const url of [courier.baseUrl, courier.app.dispatcher.http]) {
          await assert.rejects(fetch(`${url}/metrics`), `${url} no longer answers`);
        }
      },
    );
    // The worker still serves /metrics (one registry for the process): no push crossed a gRPC stream.
    const families = await scrape(`http://${new URL(courier.wsUrl).host}`);
    assert.equal(valueOf(families, 'courier_push_streams', { side: 'dispatcher' }), 0);
    assert.equal(valueOf(families, 'courier_push_streams', { side: 'worker' }), 0);
    assert.equal(valueOf(families, 'courier_push_batch_items_count'), 0);
    assert.equal(valueOf(families, 'courier_messages_out_total', { kind: 'message' }), 1);
    assert.equal(valueOf(families, 'courier_messages_in_total', { ingress: 'ws', outcome: 'sent' }), 1);
  });
});

describe('all-in-one by default (npm start): the real hops', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({ business: { openMessaging: true } });
  });
  after(() => courier?.stop());

  it('carries the chat over the HTTP uplink, HTTP dispatch and a gRPC stream to its own worker', async () => {
    await chat((uid) => courier.connect(uid));
    const families = await scrape(`http://${new URL(courier.wsUrl).host}`);
    assert.equal(valueOf(families, 'courier_push_streams', { side: 'worker' }), 1);
    assert.ok(valueOf(families, 'courier_push_batch_items_count', { direction: 'received' }) >= 2);
  });
});

describe('separate roles over the real hops', () => {
  let set: RoleSet;
  let ws: string;
  let workerBase: string;
  before(async () => {
    set = await roleSet({ business: { openMessaging: true } });
    const w = await worker(set, 'hops-worker');
    await dispatcher(set, 'hops-dispatcher');
    await business(set, 'hops-business');
    ws = w.node.ws;
    workerBase = workerHttp(w);
  });
  after(() => set?.stop());

  it('serves the same WebSocket chat through the HTTP uplink, HTTP dispatch and a gRPC stream', async () => {
    const token = async (uid: string) =>
      (await set.tokens.sign({ uid, role: 'customer', platform: 'web' })).token;
    await chat(async (uid) => TestClient.open(ws, await token(uid)));
    const families = await scrape(workerBase);
    assert.equal(valueOf(families, 'courier_push_streams', { side: 'worker' }), 1);
    assert.ok(valueOf(families, 'courier_push_batch_items_count', { direction: 'received' }) >= 2);
  });
});

describe('all-in-one worker that stopped', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({ node: { inProcessHops: true } });
  });
  after(() => courier?.stop());

  const send = (to: string, content: string) =>
    courier.http<{ id: string; conversation: string; delivered: number }>('POST', '/v1/messages', {
      from: 'shop',
      to,
      type: 'text',
      content,
    });
  const failedPushes = async () =>
    valueOf(await scrape(courier.app.dispatcher.http), 'courier_dispatch_connections_total', {
      outcome: 'failed',
    });

  for (const how of ['drained and closed', 'closed like a crash'] as const) {
    it(`is treated as gone once ${how}: the message is stored, delivered to nobody`, async () => {
      const carol = uniqueId('carol');
      const extra = await courier.app.startWorker(uniqueId('worker-extra'));
      const phone = await TestClient.open(extra.node.ws, await courier.token(carol));
      const first = await send(carol, 'while it runs');
      assert.equal(first.json.delivered, 1, 'a second worker of the process is reached in-process too');
      assert.equal((await phone.next('message')).message.id, first.json.id);

      if (how === 'drained and closed') await extra.drain(0);
      await extra.close();
      await phone.closed;
      // What a worker that died without cleaning up leaves behind: an entry that still routes carol to it.
      await courier.app.registry.add([
        {
          uid: carol,
          connId: 'customer:web:left-behind',
          info: {
            worker: extra.id,
            ip: '127.0.0.1',
            role: 'customer',
            platform: 'web',
            channel: '',
            since: 0,
          },
        },
      ]);
      const failedBefore = await failedPushes();
      const res = await send(carol, 'after it stopped');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.delivered, 0);
      assert.equal(await failedPushes(), failedBefore + 1, 'routed to the stopped worker, which failed');
      const history = await courier.http<{ messages: Message[] }>(
        'GET',
        `/v1/conversations/${encodeURIComponent(res.json.conversation)}/messages`,
      );
      assert.deepEqual(
        history.json.messages.map((m) => m.content),
        ['while it runs', 'after it stopped'],
      );

      // The process carries on: the first worker still gets its pushes.
      const dave = uniqueId('dave');
      const daveWeb = await courier.connect(dave);
      const ok = await send(dave, 'still here');
      assert.equal(ok.json.delivered, 1);
      assert.equal((await daveWeb.next('message')).message.id, ok.json.id);
    });
  }
});
