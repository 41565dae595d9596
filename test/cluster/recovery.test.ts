// Recovery of a real multi-process cluster (2 business, 2 dispatchers, 3 workers): Redis losing its data, etcd
// coming back empty and a worker crashing, each followed by traffic that must flow without a restart. The
// tests share one cluster and run in order; each leaves it healthy for the next, the crash comes last.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ETCD_DIRS, LocalCluster, type ClusterNode } from '../support/cluster.js';
import type { TestClient } from '../support/courier.js';
import { uniqueId, waitFor } from '../support/servers.js';
import { Clients, FAST } from './clients.js';

interface User {
  uid: string;
  worker: ClusterNode;
  socket: TestClient;
}

describe('cluster: recovery', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let clients: Clients;
  let users: User[]; // one per worker, connected straight to it for the whole file
  const shop = uniqueId('shop');

  before(async () => {
    cluster = await LocalCluster.start(FAST);
    clients = new Clients(cluster);
    users = await Promise.all(
      cluster.nodesOf('worker').map(async (worker) => {
        const uid = uniqueId(`on-${worker.id}-`);
        return { uid, worker, socket: await clients.connect(uid, worker) };
      }),
    );
  });
  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  /** A message through every business node to every user, each pushed to the connection it already has. */
  async function traffic(to: User[] = users, retryMs = 0): Promise<void> {
    for (const via of cluster.nodesOf('business')) {
      for (const u of to) {
        const sent = await clients.send(via, shop, u.uid, `via ${via.id}`, retryMs);
        assert.equal(sent.delivered, 1, `${via.id} → ${u.uid} on ${u.worker.id}`);
        await clients.receives(u.socket, sent.id);
      }
    }
  }

  const registered = (u: User) => [...cluster.registry(u.uid).values()].join() === u.worker.id;

  it('Redis flushed: routing recovers, and clients catch up on what was pushed to nobody', async (t) => {
    await waitFor('every user in the registry', () => users.every(registered), 5_000);
    await traffic();

    const flushed = Date.now();
    cluster.redis.cli('FLUSHALL');
    const [first] = users;
    assert.ok(first);
    // Stored at once, but with the registry empty it is pushed to nobody (unless a worker was quicker).
    const gap = await clients.send(clients.business(), shop, first.uid, 'into the gap');
    // Workers re-put their entries when their checkpoint marker is gone (about a second), long before the
    // periodic refresh (a third of the 180 s registry TTL) would, and then close the connections they held
    // with 1012 (spread over 2 s): only a reconnect tells a client to sync what it was never pushed.
    const closes = await Promise.all(users.map((u) => u.socket.closed));
    const closedMs = Date.now() - flushed;
    assert.deepEqual(
      closes.map((c) => c.code),
      users.map(() => 1012),
    );
    users = await Promise.all(
      users.map(async (u) => ({ ...u, socket: await clients.connect(u.uid, u.worker) })),
    );
    const [back] = users;
    assert.ok(back);
    back.socket.send({ type: 'sync', conversation: gap.conversation, after: gap.seq - 1 });
    const sync = await back.socket.next('sync');
    assert.deepEqual(
      sync.messages.map((m) => m.id),
      [gap.id],
    );
    await waitFor('every user in the registry', () => users.every(registered), 5_000, 20);
    t.diagnostic(`FLUSHALL → every connection told to resync (1012) within ${closedMs} ms`);
    await traffic();
  });

  it('etcd restarted empty: every node registers again and traffic flows', async (t) => {
    const restarted = Date.now();
    await cluster.etcd.restart({ wipeData: true });
    const upMs = Date.now() - restarted;
    const keys = [...cluster.nodes.values()].map((n) => `${ETCD_DIRS[n.role]}${n.id}`);
    await waitFor(
      'every node to register again',
      async () => {
        const entries = await cluster.etcdEntries();
        return keys.every((key) => entries.has(key));
      },
      20_000,
      50,
    );
    const registeredMs = Date.now() - restarted;
    const workers = cluster.nodesOf('worker').length;
    for (const d of cluster.nodesOf('dispatcher')) {
      await waitFor(
        `${d.id} to see every worker`,
        async () =>
          (await cluster.http<{ workers: number }>(d.url, 'GET', '/readyz')).json.workers === workers,
        10_000,
      );
    }
    t.diagnostic(`etcd back in ${upMs} ms; all ${keys.length} nodes registered again at ${registeredMs} ms`);
    // A business node whose watch is still re-reading etcd answers 503, which callers retry (same clientMsgId).
    await traffic(users, 5_000);
    assert.ok(users.every(registered), 'no live worker was swept while etcd was empty');
  });

  it('a worker killed with SIGKILL leaves etcd within its TTL, is swept, and its users lose nothing', async (t) => {
    const victim = users.at(-1) ?? assert.fail('no users');
    const others = users.slice(0, -1);
    const before = await clients.send(clients.business(), shop, victim.uid, 'before the crash');
    await clients.receives(victim.socket, before.id);

    const killed = Date.now();
    await cluster.kill(victim.worker.id, 'SIGKILL');
    await victim.socket.closed;
    const key = `${ETCD_DIRS.worker}${victim.worker.id}`;
    // etcd expires a lease at most its TTL after the last keep-alive; its expiry loop runs twice a second, and
    // a loaded machine (the suite runs files in parallel) gets a little more.
    const ttlMs = FAST.leaseTtlSeconds * 1000;
    await waitFor(
      'the key to leave etcd',
      async () => !(await cluster.etcdEntries()).has(key),
      ttlMs + 1_500,
    );
    const goneMs = Date.now() - killed;
    await waitFor('a dispatcher to sweep its entries', () => cluster.registry(victim.uid).size === 0, 10_000);
    const sweptMs = Date.now() - killed;
    t.diagnostic(`SIGKILL → key gone from etcd in ${goneMs} ms, registry entries swept at ${sweptMs} ms`);
    await traffic(others);

    // Sent while the user is away: stored, delivered nowhere.
    const away = [
      await clients.send(clients.business(0), shop, victim.uid, 'while away 1'),
      await clients.send(clients.business(1), shop, victim.uid, 'while away 2'),
    ];
    assert.deepEqual(
      away.map((s) => s.delivered),
      [0, 0],
    );
    const back = await clients.connect(victim.uid); // through /v1/gateway: a live worker
    assert.notEqual(back.welcome.worker, victim.worker.id);
    back.send({ type: 'sync', conversation: before.conversation, after: before.seq });
    const sync = await back.next('sync');
    assert.deepEqual(
      sync.messages.map((m) => [m.id, m.seq]),
      away.map((s) => [s.id, s.seq]),
    );
    assert.deepEqual(
      away.map((s) => s.seq),
      [before.seq + 1, before.seq + 2],
    );
    const live = await clients.send(clients.business(1), shop, victim.uid, 'live again');
    assert.equal(live.delivered, 1);
    await clients.receives(back, live.id);
  });
});
