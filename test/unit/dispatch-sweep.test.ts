// The dispatcher's cleanup of workers that left discovery: a delayed sweep, skipped when the worker is back,
// and the lazy cleanup of fields met on the way, on the in-process registry and discovery.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { WorkerNode } from '../../internal/discovery/discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';
import { DispatchService } from '../../internal/dispatcher/service.js';
import { silentLogger } from '../../internal/log/logger.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import type { RegistryEntry } from '../../internal/registry/registry.js';
import { waitFor } from '../support/servers.js';

// Nothing listens there: these tests never reach a worker, a push to one would fail.
const worker = (id: string): WorkerNode => ({
  role: 'worker',
  id,
  grpc: '127.0.0.1:9',
  ws: 'ws://127.0.0.1:9/ws',
  conns: 0,
  startedAt: 0,
});

const entry = (uid: string, workerId: string): RegistryEntry => ({
  uid,
  connId: `customer:web:${uid}-${workerId}`,
  info: { worker: workerId, ip: '127.0.0.1', role: 'customer', platform: 'web', channel: '', since: 0 },
});

const workersOf = async (registry: MemoryRegistry, uid: string) =>
  [...((await registry.lookup([uid])).get(uid)?.values() ?? [])].map((i) => i.worker);

describe('DispatchService cleanup of vanished workers', () => {
  let service: DispatchService | undefined;
  afterEach(() => service?.close());

  async function setup(sweepDelayMs: number) {
    const registry = new MemoryRegistry();
    const discovery = new StaticDiscovery();
    const w1 = await discovery.register(worker('w1'));
    const w2 = await discovery.register(worker('w2'));
    await registry.add([entry('u1', 'w1'), entry('u1', 'w2'), entry('u2', 'w1'), entry('u3', 'w9')]);
    await registry.checkpoint('w1');
    service = new DispatchService({ pushTimeoutMs: 500, sweepDelayMs }, registry, discovery, silentLogger());
    await service.start();
    return { registry, discovery, w1, w2, service };
  }

  it('sweeps every entry of a worker that left discovery, and drops its marker', async () => {
    const { registry, w1 } = await setup(20);
    await w1.revoke();
    await waitFor('the sweep', async () => (await workersOf(registry, 'u2')).length === 0, 2_000, 10);
    assert.deepEqual(await workersOf(registry, 'u1'), ['w2']);
    assert.equal(await registry.checkpoint('w1'), true, 'a w1 alive after all would put its entries back');
  });

  it('does not sweep a worker that is back before the delay', async () => {
    const { registry, discovery, w1 } = await setup(100);
    const removeWorker = registry.removeWorker.bind(registry);
    let sweeps = 0;
    registry.removeWorker = (id, uids) => (sweeps++, removeWorker(id, uids));
    await w1.revoke();
    await discovery.register(worker('w1'));
    // Absence of a sweep can only be seen by waiting past the moment it would have run.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sweeps, 0);
    assert.deepEqual(await workersOf(registry, 'u2'), ['w1']);
  });

  it('keeps the fields of a worker whose sweep is pending, drops those of one never seen', async () => {
    const { registry, w1, service } = await setup(60_000);
    await w1.revoke();
    const message = {
      id: 'm1',
      conversation: 'c',
      seq: 1,
      from: 'shop',
      to: [],
      type: 'text' as const,
      ts: 0,
    };
    const [a, b] = await service.dispatch([
      { kind: 'message', message: { ...message, content: 'a' }, uids: ['u2'] },
      { kind: 'message', message: { ...message, content: 'b', id: 'm2' }, uids: ['u3'] },
    ]);
    assert.deepEqual([a?.delivered, b?.delivered], [0, 0]);
    assert.deepEqual(await workersOf(registry, 'u2'), ['w1'], 'w1 may be re-registering: left to its sweep');
    await waitFor(
      'lazy cleanup of w9',
      async () => (await workersOf(registry, 'u3')).length === 0,
      2_000,
      10,
    );
  });
});
