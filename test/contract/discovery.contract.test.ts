// One contract for every Discovery (static, etcd), then what only etcd promises: the stored keys, TTL expiry
// of a crashed node, and re-registration after etcd loses a lease.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { Etcd3 } from 'etcd3';
import type { Discovery, NodeOf, NodeRole, WorkerNode } from '../../internal/discovery/discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';
import { createEtcd, EtcdDiscovery } from '../../internal/discovery/etcd-discovery.js';
import { createDiscovery } from '../../internal/discovery/create-discovery.js';
import { createLogger, silentLogger } from '../../internal/log/logger.js';
import { startEtcd, type EtcdServer } from '../support/etcd.js';
import { uniqueId, waitFor } from '../support/servers.js';

// COURIER_TEST_LOG=debug shows what the discovery did (lease losses, resyncs) when a test fails.
const logger = () =>
  process.env.COURIER_TEST_LOG
    ? createLogger({ level: process.env.COURIER_TEST_LOG, pretty: false })
    : silentLogger();

const worker = (id: string, conns = 0): WorkerNode => ({
  role: 'worker',
  id,
  grpc: '127.0.0.1:9100',
  ws: 'ws://127.0.0.1:8090/ws',
  conns,
  startedAt: 1_700_000_000_000,
});

/** Records every list a watcher is handed. */
function recorder<R extends NodeRole>() {
  const calls: NodeOf<R>[][] = [];
  return {
    calls,
    last: (): NodeOf<R>[] | undefined => calls.at(-1),
    ids: (): string[] => (calls.at(-1) ?? []).map((n) => n.id),
    onChange: (nodes: NodeOf<R>[]) => void calls.push(nodes),
  };
}

/** `discovery` registers; `observer` lists and watches (a second process for etcd, the same one for static). */
interface Harness {
  discovery: Discovery;
  observer: Discovery;
}

function contractSuite(name: string, make: (t: TestContext) => Promise<Harness>): void {
  describe(`Discovery contract: ${name}`, () => {
    it('lists and watches a registered node: snapshot first, then additions and removals', async (t) => {
      const { discovery, observer } = await make(t);
      const seen = recorder<'worker'>();
      const stop = await observer.watch('worker', seen.onChange);
      t.after(stop);
      assert.deepEqual(seen.calls, [[]], 'the first call is the (empty) snapshot, before watch() resolves');

      const reg = await discovery.register(worker('w1'));
      assert.deepEqual(await observer.list('worker'), [worker('w1')]);
      await waitFor('watch to see w1', () => seen.ids().join() === 'w1');
      assert.deepEqual(seen.last(), [worker('w1')]);

      const reg2 = await discovery.register(worker('w2', 3));
      await waitFor('watch to see w1 and w2', () => seen.ids().join() === 'w1,w2');
      assert.deepEqual(seen.last(), [worker('w1'), worker('w2', 3)]);

      await reg.revoke();
      await waitFor('watch to see w1 removed', () => seen.ids().join() === 'w2');
      await reg2.revoke();
      await waitFor('watch to see no workers', () => seen.ids().length === 0);
    });

    it('hands a new watcher the nodes registered before it', async (t) => {
      const { discovery, observer } = await make(t);
      await discovery.register(worker('early', 2));
      const seen = recorder<'worker'>();
      t.after(await observer.watch('worker', seen.onChange));
      assert.deepEqual(seen.calls[0], [worker('early', 2)]);
    });

    it('publishes updates of the registered value', async (t) => {
      const { discovery, observer } = await make(t);
      const seen = recorder<'worker'>();
      t.after(await observer.watch('worker', seen.onChange));
      const reg = await discovery.register(worker('w1', 0));
      await reg.update(worker('w1', 5));
      assert.deepEqual(await observer.list('worker'), [worker('w1', 5)]);
      await waitFor('watch to see conns 5', () => seen.last()?.[0]?.conns === 5);

      // A burst of updates ends with the last value, whatever was coalesced in between.
      await Promise.all([1, 2, 3, 4, 42].map((conns) => reg.update(worker('w1', conns))));
      assert.deepEqual(await observer.list('worker'), [worker('w1', 42)]);
      await waitFor('watch to see conns 42', () => seen.last()?.[0]?.conns === 42);
    });

    it('removes a node at once when its registration is revoked', async (t) => {
      const { discovery, observer } = await make(t);
      const reg = await discovery.register({ role: 'dispatcher', id: 'd1', http: 'http://127.0.0.1:7001' });
      assert.equal((await observer.list('dispatcher')).length, 1);
      await reg.revoke();
      assert.deepEqual(await observer.list('dispatcher'), [], 'gone right after revoke, not after a TTL');
      await reg.revoke(); // idempotent
    });

    it('keeps roles apart', async (t) => {
      const { discovery, observer } = await make(t);
      const seen = recorder<'business'>();
      t.after(await observer.watch('business', seen.onChange));
      await discovery.register({ role: 'dispatcher', id: 'n1', http: 'http://127.0.0.1:7001' });
      await discovery.register({ role: 'business', id: 'n1', http: 'http://127.0.0.1:8080' });
      await discovery.register(worker('n1'));
      assert.deepEqual(await observer.list('dispatcher'), [
        { role: 'dispatcher', id: 'n1', http: 'http://127.0.0.1:7001' },
      ]);
      assert.deepEqual(await observer.list('business'), [
        { role: 'business', id: 'n1', http: 'http://127.0.0.1:8080' },
      ]);
      assert.deepEqual(await observer.list('worker'), [worker('n1')]);
      await waitFor('business watch to see n1', () => seen.ids().join() === 'n1');
      assert.ok(seen.calls.every((nodes) => nodes.every((n) => n.role === 'business')));
    });

    it('stops calling a watcher once it is stopped', async (t) => {
      const { discovery, observer } = await make(t);
      const seen = recorder<'worker'>();
      const stop = await observer.watch('worker', seen.onChange);
      const reg = await discovery.register(worker('w1'));
      await waitFor('watch to see w1', () => seen.ids().join() === 'w1');
      stop();
      const calls = seen.calls.length;
      await reg.revoke();
      // A second watcher that does see the removal proves the event has been delivered.
      const other = recorder<'worker'>();
      t.after(await observer.watch('worker', other.onChange));
      await discovery.register(worker('w9'));
      await waitFor('other watcher to see w9', () => other.ids().join() === 'w9');
      assert.equal(seen.calls.length, calls);
    });

    it('answers ping', async (t) => {
      const { observer } = await make(t);
      assert.equal(await observer.ping(), true);
    });
  });
}

contractSuite('static', async () => {
  const discovery = new StaticDiscovery();
  return { discovery, observer: discovery };
});

let etcd: EtcdServer;
let raw: Etcd3;
before(async () => {
  etcd = await startEtcd();
  raw = createEtcd([etcd.endpoint]);
});
after(async () => {
  raw?.close();
  await etcd?.stop();
});

/** A discovery on its own client and a fresh prefix; closed (leases revoked) when the test ends. */
function etcdDiscovery(t: TestContext, prefix: string, leaseTtlSeconds = 10): EtcdDiscovery {
  const discovery = new EtcdDiscovery({ prefix, leaseTtlSeconds, logger: logger(), hosts: [etcd.endpoint] });
  t.after(() => discovery.close());
  return discovery;
}

contractSuite('etcd', async (t) => {
  const prefix = `/${uniqueId('courier')}/`;
  return { discovery: etcdDiscovery(t, prefix), observer: etcdDiscovery(t, prefix) };
});

describe('EtcdDiscovery', () => {
  it('stores the keys and JSON values of DESIGN §5 under a lease', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const discovery = etcdDiscovery(t, prefix);
    await discovery.register(worker('w1', 4));
    await discovery.register({ role: 'dispatcher', id: 'd1', http: 'http://127.0.0.1:7001' });
    await discovery.register({ role: 'business', id: 'b1', http: 'http://127.0.0.1:8080' });

    const w = await raw.get(`${prefix}workers/w1`).exec();
    assert.equal(
      w.kvs[0]?.value.toString(),
      '{"id":"w1","grpc":"127.0.0.1:9100","ws":"ws://127.0.0.1:8090/ws","conns":4,"startedAt":1700000000000}',
    );
    assert.notEqual(w.kvs[0]?.lease, '0', 'the key lives under a lease');
    assert.equal(
      await raw.get(`${prefix}dispatchers/d1`).string(),
      '{"id":"d1","http":"http://127.0.0.1:7001"}',
    );
    assert.equal(
      await raw.get(`${prefix}business/b1`).string(),
      '{"id":"b1","http":"http://127.0.0.1:8080"}',
    );
    assert.deepEqual(await raw.getAll().prefix(prefix).keys(), [
      `${prefix}business/b1`,
      `${prefix}dispatchers/d1`,
      `${prefix}workers/w1`,
    ]);
  });

  it('skips values that do not parse, in list and watch', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const discovery = etcdDiscovery(t, prefix);
    await raw.put(`${prefix}workers/bad`).value('{not json');
    await raw.put(`${prefix}workers/half`).value('{"id":"half","grpc":"x"}');
    await discovery.register(worker('ok'));
    assert.deepEqual(await discovery.list('worker'), [worker('ok')]);
    const seen = recorder<'worker'>();
    t.after(await discovery.watch('worker', seen.onChange));
    assert.deepEqual(seen.last(), [worker('ok')]);
    await raw.put(`${prefix}workers/bad2`).value('null');
    await raw.put(`${prefix}workers/w2`).value(JSON.stringify({ ...worker('w2'), role: undefined }));
    await waitFor('watch to see w2', () => seen.ids().join() === 'ok,w2');
  });

  it('drops a crashed node (client gone, lease not revoked) within its TTL', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const observer = etcdDiscovery(t, prefix);
    const seen = recorder<'worker'>();
    t.after(await observer.watch('worker', seen.onChange));

    const crashClient = createEtcd([etcd.endpoint]);
    const crashed = new EtcdDiscovery({ prefix, leaseTtlSeconds: 2, logger: logger() }, crashClient);
    await crashed.register(worker('doomed'));
    await waitFor('watch to see the node', () => seen.ids().join() === 'doomed');

    crashClient.close(); // keep-alives stop; the revoke in close() below can no longer reach etcd
    const crashedAt = Date.now();
    await crashed.close();
    assert.deepEqual(
      (await observer.list('worker')).map((n) => n.id),
      ['doomed'],
      'still listed: only the TTL removes it',
    );
    await waitFor('the lease to expire', async () => (await observer.list('worker')).length === 0, 6_000);
    await waitFor('watch to see the node gone', () => seen.ids().length === 0, 2_000);
    t.diagnostic(`crashed node vanished after ${Date.now() - crashedAt} ms (TTL 2 s)`);
  });

  it('registers again under a new lease when its lease is revoked behind its back', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const key = `${prefix}workers/w1`;
    const discovery = etcdDiscovery(t, prefix, 3);
    const reg = await discovery.register(worker('w1'));
    const before = (await raw.get(key).exec()).kvs[0]?.lease;
    assert.ok(before && before !== '0');

    await raw.leaseClient.leaseRevoke({ ID: before });
    const revokedAt = Date.now();
    assert.equal(await raw.get(key).string(), null, 'the revoke removed the key');
    await waitFor('the key to come back', async () => (await raw.get(key).string()) !== null, 10_000);
    t.diagnostic(`re-registered ${Date.now() - revokedAt} ms after the lease was revoked (TTL 3 s)`);
    const after = (await raw.get(key).exec()).kvs[0]?.lease;
    assert.notEqual(after, before, 'under a new lease');

    // Updates go under the new lease, and revoke still removes the key at once.
    await reg.update(worker('w1', 9));
    assert.deepEqual(await discovery.list('worker'), [worker('w1', 9)]);
    await reg.revoke();
    assert.equal(await raw.get(key).string(), null);
  });

  it('survives an etcd restart: keys are kept and watchers keep following', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const discovery = etcdDiscovery(t, prefix, 3);
    const observer = etcdDiscovery(t, prefix);
    const seen = recorder<'worker'>();
    t.after(await observer.watch('worker', seen.onChange));
    await discovery.register(worker('w1'));
    await waitFor('watch to see w1', () => seen.ids().join() === 'w1');

    await etcd.restart();
    await waitFor('ping after restart', () => observer.ping(), 15_000);
    await (await waitForRegister(discovery, worker('w2'))).update(worker('w2', 1));
    const expected = [worker('w1'), worker('w2', 1)];
    await waitFor(
      'watch to see w1 and w2 after the restart',
      () => isDeepStrictEqual(seen.last(), expected),
      15_000,
    );
  });

  it('registers again after etcd comes back empty, and watchers see it', async (t) => {
    const prefix = `/${uniqueId('courier')}/`;
    const discovery = etcdDiscovery(t, prefix, 3);
    const observer = etcdDiscovery(t, prefix);
    const seen = recorder<'worker'>();
    t.after(await observer.watch('worker', seen.onChange));
    const reg = await discovery.register(worker('w1'));
    await waitFor('watch to see w1', () => seen.ids().join() === 'w1');

    await etcd.restart({ wipeData: true });
    const restartedAt = Date.now();
    await waitFor(
      'w1 to be registered again',
      async () => (await raw.get(`${prefix}workers/w1`).string()) !== null,
      20_000,
    );
    t.diagnostic(`re-registered ${Date.now() - restartedAt} ms after etcd came back empty (TTL 3 s)`);
    await waitFor('watch to see w1 again', () => seen.ids().join() === 'w1', 15_000);

    await reg.update(worker('w1', 7));
    await waitFor('watch to see the update', () => seen.last()?.[0]?.conns === 7, 10_000);
  });
});

/** Registering right after a restart may meet the client's circuit breaker: retry until etcd takes it. */
async function waitForRegister(discovery: Discovery, node: WorkerNode) {
  let reg: Awaited<ReturnType<Discovery['register']>> | undefined;
  await waitFor(
    `register ${node.id}`,
    async () => Boolean((reg = await discovery.register(node))),
    15_000,
    200,
  );
  assert.ok(reg);
  return reg;
}

describe('createDiscovery', () => {
  it('builds a static discovery from the configured lists, or returns the shared one', async () => {
    const options = {
      driver: 'static' as const,
      static: {
        workers: [{ id: 'w1', grpc: '127.0.0.1:9100', ws: 'ws://127.0.0.1:8090/ws' }],
        dispatchers: [{ id: 'd1', http: 'http://127.0.0.1:7001' }],
        business: [{ id: 'b1', http: 'http://127.0.0.1:8080' }],
      },
      etcd: { hosts: ['http://127.0.0.1:1'], prefix: '/courier/', leaseTtlSeconds: 10 },
    };
    const discovery = createDiscovery(options, silentLogger());
    assert.deepEqual(await discovery.list('worker'), [{ ...worker('w1'), startedAt: 0 }]);
    assert.deepEqual(await discovery.list('dispatcher'), [
      { role: 'dispatcher', id: 'd1', http: 'http://127.0.0.1:7001' },
    ]);
    assert.deepEqual(await discovery.list('business'), [
      { role: 'business', id: 'b1', http: 'http://127.0.0.1:8080' },
    ]);
    const shared = new StaticDiscovery();
    assert.equal(createDiscovery(options, silentLogger(), shared), shared);
    const viaEtcd = createDiscovery({ ...options, driver: 'etcd' }, silentLogger());
    assert.ok(viaEtcd instanceof EtcdDiscovery);
    await viaEtcd.close();
  });
});
