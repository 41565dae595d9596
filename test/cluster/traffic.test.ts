// A real cluster of separate processes (2 business, 2 dispatchers, 3 workers on Redis, etcd and MariaDB):
// what etcd holds, messages between users spread over every worker, and a worker added while it runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ETCD_DIRS, LocalCluster, type ClusterRole } from '../support/cluster.js';
import { uniqueId, waitFor } from '../support/servers.js';
import { Clients, FAST } from './clients.js';

describe('cluster: traffic over separate processes', { timeout: 90_000 }, () => {
  let cluster: LocalCluster;
  let clients: Clients;
  before(async () => {
    cluster = await LocalCluster.start(FAST);
    clients = new Clients(cluster);
  });
  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  it('registers every node in etcd with the keys and values of DESIGN §5, each under its own lease', async () => {
    const entries = await cluster.etcdEntries();
    const fields: Record<ClusterRole, string[]> = {
      business: ['http', 'id'],
      dispatcher: ['http', 'id'],
      worker: ['conns', 'grpc', 'id', 'startedAt', 'ws'],
    };
    const expectedKeys = [...cluster.nodes.values()].map((n) => `${ETCD_DIRS[n.role]}${n.id}`).sort();
    assert.deepEqual([...entries.keys()].sort(), expectedKeys);
    assert.equal(expectedKeys.length, 7);
    for (const node of cluster.nodes.values()) {
      const { value, lease } = entries.get(`${ETCD_DIRS[node.role]}${node.id}`) ?? assert.fail(node.id);
      assert.deepEqual(Object.keys(value).sort(), fields[node.role], node.id);
      assert.equal(value.id, node.id);
      if (node.role === 'worker') {
        assert.match(String(value.ws), /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
        assert.match(String(value.grpc), /^127\.0\.0\.1:\d+$/);
        assert.equal(typeof value.conns, 'number');
        assert.ok(Number(value.startedAt) > Date.now() - 120_000, 'startedAt is a recent epoch ms');
      } else {
        assert.match(String(value.http), /^http:\/\/127\.0\.0\.1:\d+$/);
      }
      const ttl = await fetch(`${cluster.etcd.endpoint}/v3/kv/lease/timetolive`, {
        method: 'POST',
        body: JSON.stringify({ ID: lease }),
      });
      const granted = ((await ttl.json()) as { grantedTTL?: string }).grantedTTL;
      assert.equal(granted, String(FAST.leaseTtlSeconds), `${node.id}'s lease TTL`);
    }
    const leases = [...entries.values()].map((e) => e.lease);
    assert.ok(leases.every((l) => l !== '0'));
    assert.equal(new Set(leases).size, leases.length, 'one lease per node');
  });

  it('delivers to users on every worker through either business node, and from a WebSocket send', async () => {
    const workers = cluster.nodesOf('worker');
    const users = workers.map((w) => ({ uid: uniqueId(`on-${w.id}-`), worker: w }));
    const sockets = await Promise.all(users.map((u) => clients.connect(u.uid, u.worker)));
    sockets.forEach((s, i) => assert.equal(s.welcome.worker, users[i]?.worker.id));
    const viaGateway = await clients.connect(uniqueId('gw'));
    assert.ok(
      workers.some((w) => w.id === viaGateway.welcome.worker),
      `/v1/gateway sent it to ${viaGateway.welcome.worker}`,
    );
    for (const u of users) {
      await waitFor(`${u.uid} in the registry`, () => cluster.registry(u.uid).size === 1, 5_000);
      assert.deepEqual([...cluster.registry(u.uid).values()], [u.worker.id]);
    }

    const shop = uniqueId('shop');
    for (const via of cluster.nodesOf('business')) {
      for (const [i, u] of users.entries()) {
        const sent = await clients.send(via, shop, u.uid, `via ${via.id} to ${u.worker.id}`);
        assert.equal(sent.delivered, 1, `${via.id} → ${u.worker.id}`);
        await clients.receives(sockets[i] ?? assert.fail(), sent.id);
      }
    }

    // worker-1 → business (uplink) → dispatcher → worker-3 and back.
    const [first, , last] = sockets;
    assert.ok(first && last);
    first.send({
      type: 'send',
      clientMsgId: 'ws-1',
      message: { to: last.welcome.uid, type: 'text', content: 'hi' },
    });
    const sent = await first.next('sent');
    await clients.receives(last, sent.message.id);
    last.send({
      type: 'send',
      clientMsgId: 'ws-2',
      message: { to: first.welcome.uid, type: 'text', content: 'yo' },
    });
    const reply = await last.next('sent');
    assert.equal(reply.message.seq, sent.message.seq + 1);
    await clients.receives(first, reply.message.id);
  });

  it('routes to a worker started mid-test without restarting the others', async () => {
    const before = [...cluster.nodes.values()].map((n) => ({ id: n.id, pid: n.proc.child.pid }));
    // The others hold connections from the test above; once etcd shows it, the new worker is the least loaded.
    await waitFor(
      'every worker to publish its connection count',
      async () =>
        [...(await cluster.etcdEntries())]
          .filter(([key]) => key.startsWith(ETCD_DIRS.worker))
          .every(([, e]) => Number(e.value.conns) > 0),
      10_000,
    );
    const added = await cluster.startNode('worker');
    assert.ok((await cluster.etcdEntries()).has(`${ETCD_DIRS.worker}${added.id}`));

    // Watch events arrive in etcd's order, so a business node that sees the new worker has seen those counts.
    await waitFor(
      `/v1/gateway to offer ${added.id}`,
      async () =>
        (await cluster.http<{ url: string }>(clients.business().url, 'GET', '/v1/gateway')).json.url ===
        added.url,
      10_000,
    );
    // The gateway offered the new worker (above); a client connects where it was sent. (Asking again could
    // name another worker: the gateway counts each client it hands out, so equal loads take turns.)
    const gateway = await clients.connect(uniqueId('new-gw'), added);
    const direct = await clients.connect(uniqueId('new'), added);
    for (const socket of [gateway, direct]) {
      assert.equal(socket.welcome.worker, added.id);
      for (const via of cluster.nodesOf('business')) {
        const sent = await clients.send(via, uniqueId('shop'), socket.welcome.uid, `hello from ${via.id}`);
        assert.equal(sent.delivered, 1);
        await clients.receives(socket, sent.id);
      }
    }
    for (const { id, pid } of before) {
      const node = cluster.node(id);
      assert.equal(node.proc.child.pid, pid, `${id} was not restarted`);
      assert.equal(node.proc.child.exitCode, null, `${id} still runs`);
    }
  });
});
