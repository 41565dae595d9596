// The worker's periodic registry refresh: paced over half its period in small calls, so that many workers'
// passes do not flood Redis at once; hurried (large calls, no pauses) when a lost registry must be healed
// or the worker stops.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../internal/log/logger.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import type { RegistryEntry } from '../../internal/registry/registry.js';
import { RegState, type Connection } from '../../internal/worker/connection.js';
import { RegistryBatcher } from '../../internal/worker/registry-batcher.js';

/** Connections as the batcher sees them: registered, each with its registry entry. */
function held(n: number): Map<string, Connection> {
  const conns = new Map<string, Connection>();
  for (let i = 0; i < n; i++) {
    const connId = `customer:web:${i}`;
    const conn = {
      uid: `u${i}`,
      connId,
      reg: RegState.added,
      entry: (worker: string): RegistryEntry => ({
        uid: `u${i}`,
        connId,
        info: { worker, ip: '127.0.0.1', role: 'customer', platform: 'web', channel: 'ws', since: 0 },
      }),
    };
    conns.set(connId, conn as unknown as Connection);
  }
  return conns;
}

/** A real in-memory registry that records the size and time of every refresh call. */
class RecordingRegistry extends MemoryRegistry {
  readonly calls: Array<{ size: number; at: number }> = [];
  private waiters: Array<() => void> = [];

  override async refresh(entries: RegistryEntry[]): Promise<void> {
    this.calls.push({ size: entries.length, at: performance.now() });
    for (const w of this.waiters.splice(0)) w();
    return super.refresh(entries);
  }

  async callsReach(n: number): Promise<void> {
    while (this.calls.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

describe('RegistryBatcher refresh', () => {
  // The batcher's timers are unref'd (they must not keep a stopping worker alive): keep the test alive.
  let alive: NodeJS.Timeout;
  before(() => (alive = setInterval(() => undefined, 1_000)));
  after(() => clearInterval(alive));

  it('spreads the periodic pass over half the period in calls of 100 entries', async () => {
    const registry = new RecordingRegistry();
    const batcher = new RegistryBatcher(registry, 'w1', 1_000, silentLogger(), held(500));
    try {
      await registry.callsReach(5);
      assert.deepEqual(
        registry.calls.map((c) => c.size),
        [100, 100, 100, 100, 100],
      );
      const spread = registry.calls[4]!.at - registry.calls[0]!.at;
      assert.ok(spread >= 350, `5 calls 100 ms apart took ${spread.toFixed(0)} ms`);
      assert.equal((await registry.lookup(['u0', 'u499'])).size, 2);
    } finally {
      await batcher.stop();
    }
  });

  it('stops pacing when asked to heal the registry, and a second call runs a whole pass at once', async () => {
    const registry = new RecordingRegistry();
    const batcher = new RegistryBatcher(registry, 'w1', 1_000, silentLogger(), held(1_500));
    try {
      await registry.callsReach(1); // a paced pass: 15 calls planned, 33 ms apart
      await batcher.refreshAll();
      const first = registry.calls.map((c) => c.size);
      assert.equal(
        first.reduce((a, b) => a + b, 0),
        1_500,
      );
      assert.ok(
        first.some((size) => size > 100),
        `the rest went in large calls: ${first.join(', ')}`,
      );
      registry.calls.length = 0;
      await batcher.refreshAll();
      assert.deepEqual(
        registry.calls.map((c) => c.size),
        [1_000, 500],
      );
    } finally {
      await batcher.stop();
    }
  });

  it('stops at once while a paced pass is waiting', async () => {
    const registry = new RecordingRegistry();
    const batcher = new RegistryBatcher(registry, 'w1', 1_000, silentLogger(), held(300));
    await registry.callsReach(1);
    const started = performance.now();
    await batcher.stop();
    assert.ok(performance.now() - started < 250, 'stop() did not wait out the two pauses left (166 ms each)');
    assert.equal(
      registry.calls.reduce((a, c) => a + c.size, 0),
      300,
    );
  });
});
