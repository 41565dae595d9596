// One contract for every Sequencer: the memory default, Redis standalone and a real 3-master Redis Cluster.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../internal/config/schema.js';
import { createRedis, isCluster, type RedisClient } from '../../internal/redis/client.js';
import { MemorySequencer } from '../../internal/sequencer/memory-sequencer.js';
import { RedisSequencer } from '../../internal/sequencer/redis-sequencer.js';
import type { LastSeqSource, Sequencer } from '../../internal/sequencer/sequencer.js';
import { startRedis, startRedisCluster } from '../support/redis.js';
import { uniqueId } from '../support/servers.js';

interface Backend {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sequencers sharing one state (one prefix on one Redis), each on its own client like separate business
   * nodes. The memory sequencer cannot share state, so its backend answers `shared: false` and one instance.
   */
  make(seed: LastSeqSource, instances?: number): Sequencer[];
  shared: boolean;
  /** Loses the counters as Redis restarted empty would (Redis only). */
  wipe?(): Promise<void>;
  /** Script calls (EVALSHA and EVAL) the server has run so far (standalone Redis only). */
  scriptCalls?(): Promise<number>;
}

/** A seed source that counts its calls and, when gated, answers only once `open()` is called. */
function seedSource(seeds: Record<string, number>, gated = false) {
  let open: () => void = () => {};
  const gate = gated ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  const calls: string[] = [];
  const source: LastSeqSource = async (conversation) => {
    calls.push(conversation);
    await gate;
    return seeds[conversation] ?? 0;
  };
  return { source, calls, open: () => open() };
}

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

function sequencerContract(backend: Backend): void {
  describe('Sequencer contract', () => {
    const open: Sequencer[] = [];
    const make = (seed: LastSeqSource, instances = 1) => {
      const made = backend.make(seed, instances);
      open.push(...made);
      return made;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    it('continues after the seed and reads it once', async () => {
      const seed = seedSource({ c1: 41 });
      const [seq] = make(seed.source);
      assert.ok(seq);
      assert.equal(await seq.next('c1'), 42);
      assert.equal(await seq.next('c1'), 43);
      assert.equal(await seq.next('c1'), 44);
      assert.deepEqual(seed.calls, ['c1']);
    });

    it('hands out 200 concurrent numbers without gaps or repeats', async () => {
      const [seq] = make(seedSource({ c1: 1000 }).source);
      assert.ok(seq);
      const got = await Promise.all(range(0, 200).map(() => seq.next('c1')));
      assert.deepEqual(sorted(got), range(1001, 200));
    });

    it('reserves a block with a count', async () => {
      const [seq] = make(seedSource({ c1: 7 }).source);
      assert.ok(seq);
      assert.equal(await seq.next('c1', 5), 8);
      assert.equal(await seq.next('c1'), 13);
      assert.equal(await seq.next('c1', 2), 14);
      assert.equal(await seq.next('c1'), 16);
    });

    it('keeps conversations independent', async () => {
      const [seq] = make(seedSource({ a: 10, b: 500 }).source);
      assert.ok(seq);
      const got = await Promise.all(['a', 'b', 'a', 'c', 'b', 'a'].map((c) => seq.next(c)));
      assert.deepEqual(got, [11, 501, 12, 1, 502, 13]);
    });

    it('hands out every number once to a burst of sends over several conversations in one tick', async () => {
      const [seq] = make(seedSource({ a: 0, b: 10, c: 100 }).source);
      assert.ok(seq);
      assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((c) => seq.next(c))), [1, 11, 101]);
      const before = await backend.scriptCalls?.();
      const asks = range(0, 60).map((i) => ({ conversation: ['a', 'b', 'c'][i % 3]!, count: 1 + (i % 2) }));
      const firsts = await Promise.all(asks.map((a) => seq.next(a.conversation, a.count)));
      for (const [conversation, from] of [
        ['a', 2],
        ['b', 12],
        ['c', 102],
      ] as const) {
        const numbers = asks.flatMap((a, i) =>
          a.conversation === conversation ? range(firsts[i]!, a.count) : [],
        );
        assert.deepEqual(sorted(numbers), range(from, numbers.length), conversation);
      }
      if (before !== undefined) {
        const calls = (await backend.scriptCalls?.()) ?? 0;
        assert.ok(calls - before <= 2, `one script call for the tick's 60 sends, not ${calls - before}`);
      }
    });

    it('never repeats a number when nodes race to seed a cold conversation', async () => {
      // Every seed read is held until all calls are in flight, so each instance sees the key missing.
      const seed = seedSource({ cold: 300 }, true);
      const instances = make(seed.source, backend.shared ? 2 : 1);
      const pending = instances.flatMap((s) => range(0, 50).map(() => s.next('cold', 2)));
      seed.open();
      const firsts = await Promise.all(pending);
      const numbers = sorted(firsts.flatMap((first) => [first, first + 1]));
      assert.deepEqual(numbers, range(301, numbers.length));
      assert.ok(seed.calls.length <= instances.length, `one store read per node, not ${seed.calls.length}`);
    });

    if (backend.wipe) {
      const wipe = backend.wipe;
      it('continues from the store after Redis lost its counters', async () => {
        const seeds = { c1: 5 };
        const [seq] = make(seedSource(seeds).source);
        assert.ok(seq);
        assert.equal(await seq.next('c1', 10), 6);
        await wipe();
        seeds.c1 = 15; // the store holds everything handed out before the loss
        assert.equal(await seq.next('c1'), 16);
      });
    }
  });
}

function redisBackend(
  label: string,
  start: () => Promise<{ config: object; stop(): Promise<void> }>,
): Backend {
  let stopServer: (() => Promise<void>) | undefined;
  let config: object = {};
  const clients: RedisClient[] = [];
  const connect = () => {
    const client = createRedis(configSchema.parse({ redis: config }).redis);
    clients.push(client);
    return client;
  };
  return {
    shared: true,
    start: async () => {
      const started = await start();
      config = started.config;
      stopServer = started.stop;
    },
    stop: async () => {
      await Promise.allSettled(clients.map((c) => c.quit()));
      await stopServer?.();
    },
    make: (seed, instances = 1) => {
      const prefix = `${uniqueId('courier-test-')}:`;
      return range(0, instances).map(() => new RedisSequencer({ prefix }, connect(), seed));
    },
    ...(label === 'standalone' && {
      scriptCalls: async () => {
        const stats = await (clients[0] ?? assert.fail('no client yet')).info('commandstats');
        const calls = (name: string) =>
          Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
        return calls('evalsha') + calls('eval');
      },
    }),
    wipe: async () => {
      const client = clients[0] ?? assert.fail(`${label}: no client yet`);
      const nodes = isCluster(client) ? client.nodes('master') : [client];
      await Promise.all(nodes.map((node) => node.flushall()));
    },
  };
}

const backends: [string, Backend][] = [
  [
    'MemorySequencer (one instance: it cannot share numbers across processes)',
    {
      shared: false,
      start: async () => {},
      stop: async () => {},
      make: (seed) => [new MemorySequencer(seed)],
    },
  ],
  [
    'RedisSequencer on standalone Redis',
    redisBackend('standalone', async () => {
      const server = await startRedis();
      return { config: { url: server.url }, stop: () => server.stop() };
    }),
  ],
  [
    'RedisSequencer on a 3-master Redis Cluster',
    redisBackend('cluster', async () => {
      const servers = await startRedisCluster();
      return { config: { mode: 'cluster', nodes: servers.nodes }, stop: () => servers.stop() };
    }),
  ],
];

for (const [name, backend] of backends) {
  describe(name, () => {
    before(() => backend.start());
    after(() => backend.stop());
    sequencerContract(backend);
  });
}
