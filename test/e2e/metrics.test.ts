// /metrics of every role (issue 8): Prometheus' text format with HELP and TYPE on every family, courier's
// names by the Prometheus conventions, each role's own families, and values that move with traffic. The
// roles run as separate nodes with registries of their own; the all-in-one serves one registry on all three.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { API_KEY, TestClient, TestCourier } from '../support/courier.js';
import { namingProblems, scrape, valueOf, type Family } from '../support/prometheus.js';
import { business, dispatcher, roleSet, worker, workerHttp, type RoleSet } from '../support/roles.js';

type Role = 'business' | 'dispatcher' | 'worker';
type Scrapes = Record<Role, Map<string, Family>>;

async function post(base: string, path: string, body: unknown, auth = API_KEY) {
  const res = await fetch(base + path, {
    method: path.includes('blacklist') ? 'PUT' : 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('metrics of separate roles', () => {
  let set: RoleSet;
  let urls: Record<Role, string>;
  let start: Scrapes;
  let end: Scrapes;
  const clients: TestClient[] = [];

  const scrapeAll = async (): Promise<Scrapes> => ({
    business: await scrape(urls.business),
    dispatcher: await scrape(urls.dispatcher),
    worker: await scrape(urls.worker),
  });
  const moved = (role: Role, sample: string, labels: Record<string, string> = {}) =>
    valueOf(end[role], sample, labels) - valueOf(start[role], sample, labels);

  before(async () => {
    set = await roleSet({
      worker: { ackTimeoutMs: 300, ackRetries: 1 },
      ratelimit: { user: { perSecond: 0.01, burst: 1 } },
    });
    const w = await worker(set, 'metrics-worker');
    const d = await dispatcher(set, 'metrics-dispatcher');
    const b = await business(set, 'metrics-business');
    urls = { business: b.http, dispatcher: d.http, worker: workerHttp(w) };
    start = await scrapeAll();

    const token = async (uid: string) =>
      (await set.tokens.sign({ uid, role: 'customer', platform: 'web' })).token;
    const alice = await TestClient.open(w.node.ws, await token('alice'));
    const lazy = await TestClient.open(w.node.ws, await token('lazy'), false);
    clients.push(alice, lazy);
    await assert.rejects(TestClient.open(w.node.ws, 'not-a-token'), { status: 401 });

    const one = await post(b.http, '/v1/messages', { from: 'bob', to: 'alice', type: 'text', content: 'a' });
    assert.equal(one.json.delivered, 1);
    const batch = await post(b.http, '/v1/messages/batch', {
      messages: [1, 2].map((n) => ({ from: 'bob', to: 'alice', type: 'text', content: `b${n}` })),
    });
    assert.equal(batch.status, 200);
    alice.send({ type: 'send', clientMsgId: 'm-1', message: { to: 'bob', type: 'text', content: 'hi' } });
    await alice.next('sent');
    for (let i = 0; i < 3; i++) await alice.next('message');
    // Frames are handled in order: the pong comes after the worker has applied every ACK sent before it.
    alice.send({ type: 'ping' });
    await alice.next('pong');

    await post(b.http, '/v1/messages', { from: 'bob', to: 'lazy', type: 'text', content: 'unacked' });
    assert.equal((await lazy.closed).code, 4008); // one resend, then the retries are exhausted

    const gateway = (t: string) =>
      fetch(`${b.http}/v1/gateway`, { headers: { authorization: `Bearer ${t}` } });
    const aliceToken = await token('alice');
    assert.equal((await gateway(aliceToken)).status, 200);
    assert.equal((await gateway(aliceToken)).status, 429);
    assert.equal((await post(b.http, '/v1/blacklist/uids/spammer', { ttlSeconds: 60 })).status, 200);
    end = await scrapeAll();
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await set?.stop();
  });

  it('answers the text format with HELP and TYPE on every family and conventional names', () => {
    for (const role of ['business', 'dispatcher', 'worker'] as const) {
      assert.deepEqual(namingProblems(end[role]), [], role);
      for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
        assert.ok(end[role].has(name), `${role} serves the default ${name}`);
      }
      const started = valueOf(end[role], 'courier_node_start_time_seconds', { role });
      assert.ok(started > 1.6e9, `${role} start time ${started}`);
    }
  });

  it('counts open files without listing every socket on the event loop', async () => {
    // A worker scrape used to walk every handle, resource and descriptor synchronously: 40–60 ms of a
    // stopped event loop at 16,000 connections. Those counts are gone; open files are still counted.
    for (const name of ['nodejs_active_handles', 'nodejs_active_resources']) {
      assert.ok(!end.worker.has(name), `no ${name}`);
    }
    const before = valueOf(await scrape(urls.worker), 'process_open_fds');
    const sockets = await Promise.all(
      Array.from({ length: 40 }, () => {
        const s = connect(Number(new URL(urls.business).port), '127.0.0.1');
        return new Promise<Socket>((resolve, reject) =>
          s.once('connect', () => resolve(s)).once('error', reject),
        );
      }),
    );
    try {
      // Each connection is two descriptors in this process: the client's and the one business accepted.
      const opened = valueOf(await scrape(urls.worker), 'process_open_fds') - before;
      assert.ok(opened >= 40 && opened <= 90, `open files moved by ${opened}`);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('serves each role its own families, without uids in labels', () => {
    assert.ok(end.worker.has('courier_ws_connections'));
    assert.ok(!end.dispatcher.has('courier_ws_connections'));
    assert.ok(!end.business.has('courier_dispatch_items_total'));
    assert.ok(end.dispatcher.has('courier_dispatch_connections_total'));
    assert.ok(!end.worker.has('courier_messages_in_total'));
    for (const role of ['business', 'dispatcher', 'worker'] as const) {
      for (const family of end[role].values()) {
        for (const s of family.samples) {
          const values = Object.values(s.labels).join(' ');
          assert.doesNotMatch(values, /alice|bob|lazy|spammer/, `${s.name} carries a uid`);
        }
      }
    }
  });

  it('counts business traffic: messages in by ingress, send time, store calls, bans, rate limits', () => {
    assert.equal(moved('business', 'courier_messages_in_total', { ingress: 'http', outcome: 'sent' }), 2);
    assert.equal(moved('business', 'courier_messages_in_total', { ingress: 'batch', outcome: 'sent' }), 2);
    assert.equal(moved('business', 'courier_messages_in_total', { ingress: 'ws', outcome: 'sent' }), 1);
    assert.equal(moved('business', 'courier_send_duration_seconds_count'), 5);
    const append = { backend: 'store', op: 'append' };
    assert.equal(moved('business', 'courier_backend_call_duration_seconds_count', append), 5);
    assert.equal(moved('business', 'courier_bans_total', { kind: 'uid', source: 'manual' }), 1);
    assert.equal(moved('business', 'courier_rate_limited_total', { scope: 'user' }), 1);
  });

  it('counts dispatcher traffic: items, outcomes per connection, open streams, batch sizes', () => {
    assert.equal(moved('dispatcher', 'courier_dispatch_items_total', { kind: 'message' }), 5);
    assert.equal(moved('dispatcher', 'courier_dispatch_connections_total', { outcome: 'delivered' }), 4);
    assert.equal(valueOf(end.dispatcher, 'courier_push_streams', { side: 'dispatcher' }), 1);
    assert.ok(moved('dispatcher', 'courier_push_batch_items_count', { direction: 'sent' }) >= 1);
    assert.ok(moved('dispatcher', 'courier_dispatch_duration_seconds_count') >= 3);
    const lookup = { backend: 'registry', op: 'lookup' };
    assert.ok(moved('dispatcher', 'courier_backend_call_duration_seconds_count', lookup) >= 3);
  });

  it('counts worker traffic: connections, connects, frames, latencies, ACK timeouts, resends, closes', () => {
    assert.equal(valueOf(end.worker, 'courier_ws_connections', { platform: 'web' }), 1);
    assert.equal(moved('worker', 'courier_ws_connects_total', { outcome: 'accepted' }), 2);
    assert.equal(moved('worker', 'courier_ws_connects_total', { outcome: 'unauthorized' }), 1);
    assert.equal(moved('worker', 'courier_messages_out_total', { kind: 'message' }), 4);
    assert.equal(moved('worker', 'courier_delivery_latency_seconds_count'), 4);
    assert.equal(moved('worker', 'courier_ack_latency_seconds_count'), 3);
    assert.equal(moved('worker', 'courier_ack_timeouts_total'), 2);
    assert.equal(moved('worker', 'courier_message_resends_total'), 1);
    assert.equal(moved('worker', 'courier_ws_closes_total', { code: '4008' }), 1);
    assert.equal(moved('worker', 'courier_ws_disconnects_total', { reason: 'server' }), 1);
    assert.equal(valueOf(end.worker, 'courier_push_streams', { side: 'worker' }), 1);
    assert.ok(moved('worker', 'courier_push_batch_items_count', { direction: 'received' }) >= 1);
    const attempts = { backend: 'blacklist', op: 'attempt' };
    assert.equal(moved('worker', 'courier_backend_call_duration_seconds_count', attempts), 2);
  });
});

describe('metrics of the all-in-one', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start();
  });
  after(() => courier?.stop());

  it('serves the process registry on the business, dispatcher and worker ports', async () => {
    const client = await courier.connect('carol');
    await courier.http('POST', '/v1/messages', { from: 'dave', to: 'carol', type: 'text', content: 'x' });
    await client.next('message');
    const worker = new URL(courier.wsUrl);
    for (const base of [courier.baseUrl, courier.app.dispatcher.http, `http://${worker.host}`]) {
      const families = await scrape(base);
      assert.deepEqual(namingProblems(families), [], base);
      for (const name of [
        'courier_messages_in_total',
        'courier_dispatch_items_total',
        'courier_ws_connections',
      ]) {
        assert.ok(families.has(name), `${base} serves ${name}`);
      }
      assert.equal(valueOf(families, 'courier_messages_in_total', { ingress: 'http', outcome: 'sent' }), 1);
      assert.equal(valueOf(families, 'courier_ws_connections'), 1);
    }
  });
});
