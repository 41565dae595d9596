import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewaySelector } from '../../internal/business/gateway.js';
import type { WorkerNode } from '../../internal/discovery/discovery.js';
import { decodeNode, encodeNode } from '../../internal/discovery/etcd-discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';
import { CourierError } from '../../internal/errors.js';
import { silentLogger } from '../../internal/log/logger.js';

const worker = (id: string, conns: number, maxConns?: number): WorkerNode => ({
  role: 'worker',
  id,
  grpc: `127.0.0.1:${id}`,
  ws: `ws://127.0.0.1/${id}`,
  conns,
  ...(maxConns !== undefined && { maxConns }),
  startedAt: 0,
});

describe('gateway selector', () => {
  it('spreads a burst of connects by what it handed out since the last published counts', async () => {
    const discovery = new StaticDiscovery([worker('a', 10), worker('b', 0), worker('c', 0)]);
    const selector = new GatewaySelector(discovery);
    await selector.start();
    const picks = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const id = selector.pick().id;
      picks.set(id, (picks.get(id) ?? 0) + 1);
    }
    const loads = [10 + (picks.get('a') ?? 0), picks.get('b') ?? 0, picks.get('c') ?? 0];
    assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `loads ${loads.join(', ')}`);
    selector.close();
  });

  it('starts counting again when a worker publishes a new count, and forgets workers that left', async () => {
    const discovery = new StaticDiscovery();
    const a = await discovery.register(worker('a', 0));
    const b = await discovery.register(worker('b', 0));
    const selector = new GatewaySelector(discovery);
    await selector.start();
    for (let i = 0; i < 10; i++) selector.pick(); // five each
    await a.update(worker('a', 5)); // a's count now includes its five; b still has five handed out
    assert.equal(selector.pick().id, 'a', 'equal loads: a (5 published) vs b (0 + 5 handed out) take turns');
    await b.revoke();
    for (let i = 0; i < 5; i++) assert.equal(selector.pick().id, 'a');
    await a.revoke();
    assert.throws(() => selector.pick(), /no worker is available/);
    selector.close();
  });

  it('skips full workers, counting what it handed out, and answers unavailable when all are full', async () => {
    const discovery = new StaticDiscovery();
    const a = await discovery.register(worker('a', 2, 3)); // one place left
    await discovery.register(worker('b', 10, 10)); // full
    const selector = new GatewaySelector(discovery);
    await selector.start();
    assert.equal(selector.pick().id, 'a');
    const full = (err: unknown) =>
      err instanceof CourierError && err.code === 'unavailable' && /every worker is full/.test(err.message);
    assert.throws(() => selector.pick(), full, 'a is at 2 published + 1 handed out = its cap');
    await a.update(worker('a', 1, 3)); // two clients left a: a new count, two places
    assert.equal(selector.pick().id, 'a');
    assert.equal(selector.pick().id, 'a');
    assert.throws(() => selector.pick(), full);
    selector.close();
  });

  it('forgets clients handed out that never connected, so a quiet worker does not stay full', async () => {
    let now = 1_000_000;
    const selector = new GatewaySelector(new StaticDiscovery([worker('a', 1, 2)]), () => now);
    await selector.start();
    assert.equal(selector.pick().id, 'a');
    now += 5_000;
    assert.throws(() => selector.pick(), /every worker is full/, 'the client may still be connecting');
    now += 6_000; // 11 s after the hand-out, and the count never changed: that client is not coming
    assert.equal(selector.pick().id, 'a');
    selector.close();
  });

  it('prefers the least-loaded worker that has room; a worker without a cap is never full', async () => {
    const discovery = new StaticDiscovery([worker('small', 0, 1), worker('old', 500)]);
    const selector = new GatewaySelector(discovery);
    await selector.start();
    const picks = Array.from({ length: 4 }, () => selector.pick().id);
    assert.deepEqual(picks, ['small', 'old', 'old', 'old']);
    selector.close();
  });
});

describe('worker values in etcd', () => {
  const log = silentLogger();

  it('keep the exact shape of DESIGN §5: a cap is not published', () => {
    const text = '{"id":"w1","grpc":"127.0.0.1:w1","ws":"ws://127.0.0.1/w1","conns":4,"startedAt":0}';
    assert.equal(encodeNode(worker('w1', 4)), text);
    assert.equal(encodeNode(worker('w1', 4, 19_744)), text);
    assert.deepEqual(decodeNode('worker', 'w1', text, log), worker('w1', 4));
  });
});
