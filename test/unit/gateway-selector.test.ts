import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewaySelector } from '../../internal/business/gateway.js';
import type { WorkerNode } from '../../internal/discovery/discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';

const worker = (id: string, conns: number): WorkerNode => ({
  role: 'worker',
  id,
  grpc: `127.0.0.1:${id}`,
  ws: `ws://127.0.0.1/${id}`,
  conns,
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
});
