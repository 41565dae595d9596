// One contract for every Registry: the memory default, Redis standalone and a real 3-master Redis Cluster.
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../internal/log/logger.js';
import { ConfigError } from '../../internal/config/load.js';
import { configSchema } from '../../internal/config/schema.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import { RedisRegistry } from '../../internal/registry/redis-registry.js';
import type { ConnectionInfo, Registry, RegistryEntry } from '../../internal/registry/registry.js';
import { connectionId, type Role } from '../../internal/protocol/message.js';
import { createRedis, isCluster, keySlot, scanKeys, type RedisClient } from '../../internal/redis/client.js';
import { startRedis, startRedisCluster } from '../support/redis.js';
import { uniqueId } from '../support/servers.js';

const TTL = 120;

interface Subject {
  registry: Registry;
  /** Loses the stored data as a restarted backend would (FLUSHALL; for memory, removing these entries). */
  wipe(entries: RegistryEntry[]): Promise<void>;
  /** Set for Redis backends: the raw client and this subject's key prefix. */
  redis?: { client: RedisClient; prefix: string };
}

interface Backend {
  start(): Promise<void>;
  stop(): Promise<void>;
  make(options?: { logger?: Logger }): Subject;
}

function info(worker: string, platform = 'ios', role: Role = 'customer'): ConnectionInfo {
  return { worker, ip: '10.0.0.7', role, platform, channel: 'app-store', since: 1_700_000_000_000 };
}

function entry(uid: string, worker: string, platform = 'ios', nonce = uniqueId('n')): RegistryEntry {
  return { uid, connId: connectionId('customer', platform, nonce), info: info(worker, platform) };
}

/** The map lookup() should answer for these entries. */
function expected(entries: RegistryEntry[]): Map<string, Map<string, ConnectionInfo>> {
  const out = new Map<string, Map<string, ConnectionInfo>>();
  for (const e of entries) {
    if (!out.has(e.uid)) out.set(e.uid, new Map());
    out.get(e.uid)?.set(e.connId, e.info);
  }
  return out;
}

async function flushAll(client: RedisClient): Promise<void> {
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  await Promise.all(nodes.map((node) => node.flushall()));
}

function redisBackend(client: () => RedisClient): (options?: { logger?: Logger }) => Subject {
  return (options = {}) => {
    const prefix = `${uniqueId('courier-test-')}:`;
    const registry = new RedisRegistry({ prefix, ttlSeconds: TTL, logger: options.logger }, client());
    return { registry, wipe: () => flushAll(client()), redis: { client: client(), prefix } };
  };
}

function registryContract(backend: Backend): void {
  describe('Registry contract', () => {
    let s: Subject;
    beforeEach(() => {
      s = backend.make();
    });
    afterEach(() => s.registry.close());

    it('answers pings', async () => {
      assert.equal(await s.registry.ping(), true);
    });

    it('keeps every device of a user, the same platform twice included', async () => {
      const entries = [
        entry('u1', 'w1', 'ios'),
        entry('u1', 'w2', 'ios'),
        entry('u1', 'w1', 'web'),
        entry('u2', 'w2'),
      ];
      await s.registry.add(entries);
      assert.deepEqual(await s.registry.lookup(['u1', 'u2']), expected(entries));
      assert.deepEqual(await s.registry.lookup(['u2']), expected(entries.slice(3)));
    });

    it('forgets removed connections and ignores unknown ones', async () => {
      const [a, b, c] = [entry('u1', 'w1'), entry('u1', 'w2'), entry('u2', 'w1')];
      await s.registry.add([a, b, c]);
      await s.registry.remove([
        { uid: a.uid, connId: a.connId },
        { uid: c.uid, connId: c.connId },
        { uid: 'u1', connId: 'customer:ios:never' },
        { uid: 'nobody', connId: 'customer:ios:never' },
      ]);
      assert.deepEqual(await s.registry.lookup(['u1', 'u2']), expected([b]));
      await s.registry.remove([{ uid: b.uid, connId: b.connId }]);
      assert.equal((await s.registry.lookup(['u1'])).size, 0);
    });

    it('looks up 1,000 uids in one call, absent and repeated ones included', async (t) => {
      const entries = Array.from({ length: 1000 }, (_, i) => entry(`user-${i}`, `w${i % 5}`));
      await s.registry.add(entries);
      const asked = [...entries.map((e) => e.uid), 'absent-1', 'user-7', 'absent-2'];
      const started = performance.now();
      const found = await s.registry.lookup(asked);
      t.diagnostic(`lookup of ${asked.length} uids: ${(performance.now() - started).toFixed(1)} ms`);
      assert.deepEqual(found, expected(entries));
      assert.deepEqual(await s.registry.lookup([]), new Map());
    });

    it('refresh puts entries back after the data was lost', async () => {
      const entries = [entry('u1', 'w1'), entry('u1', 'w1', 'web'), entry('u2', 'w1')];
      await s.registry.add(entries);
      await s.wipe(entries);
      assert.equal((await s.registry.lookup(['u1', 'u2'])).size, 0);
      await s.registry.refresh(entries);
      assert.deepEqual(await s.registry.lookup(['u1', 'u2']), expected(entries));
    });

    it('removes a worker from the listed uids only', async () => {
      const keep = [entry('u1', 'w2'), entry('u3', 'w1')];
      await s.registry.add([entry('u1', 'w1'), entry('u1', 'w1', 'web'), entry('u2', 'w1'), ...keep]);
      assert.equal(await s.registry.removeWorker('w1', ['u1', 'u2', 'u2', 'absent']), 3);
      assert.deepEqual(await s.registry.lookup(['u1', 'u2', 'u3']), expected(keep));
    });

    it('removes a worker everywhere when no uids are given, leaving other prefixes alone', async () => {
      const other = backend.make();
      try {
        const keep = [entry('u1', 'w2'), entry('u4', 'w3')];
        const doomed = Array.from({ length: 250 }, (_, i) => entry(`user-${i}`, 'w1'));
        await s.registry.add([...doomed, ...keep]);
        await other.registry.add([entry('u1', 'w1')]);
        assert.equal(await s.registry.removeWorker('w1'), doomed.length);
        assert.deepEqual(await s.registry.lookup(['u1', 'u4', 'user-0', 'user-249']), expected(keep));
        assert.equal((await other.registry.lookup(['u1'])).size, 1);
        assert.equal(await s.registry.removeWorker('w1'), 0);
      } finally {
        await other.registry.close();
      }
    });

    it('checkpoint reports a missing marker: on the first call and after removeWorker', async () => {
      const w = uniqueId('w');
      assert.equal(await s.registry.checkpoint(w), true, 'the first call');
      assert.equal(await s.registry.checkpoint(w), false);
      assert.equal(await s.registry.checkpoint(uniqueId('w')), true, 'one marker per worker');
      assert.equal(await s.registry.checkpoint(w), false);
      await s.registry.add([entry('u1', w)]);
      assert.equal(await s.registry.removeWorker(w, ['u1']), 1);
      assert.equal(await s.registry.checkpoint(w), true, 'after removeWorker for some uids');
      await s.registry.removeWorker(w);
      assert.equal(await s.registry.checkpoint(w), true, 'after removeWorker everywhere');
      assert.equal(await s.registry.checkpoint(w), false);
    });
  });
}

/** Checks that only make sense on Redis: the stored keys, their expiry, round trips, bad data. */
function redisKeyContract(backend: Backend): void {
  describe('keys in Redis', () => {
    it('writes ${prefix}conn:{uid} hashes of JSON with a TTL', async () => {
      const s = backend.make();
      const { client, prefix } = s.redis ?? assert.fail('not a redis backend');
      const e = entry('u:1', 'w1');
      await s.registry.add([e]);
      const key = `${prefix}conn:{u:1}`;
      const stored: string[] = [];
      await scanKeys(client, `${prefix}*`, async (keys) => void stored.push(...keys));
      assert.deepEqual(stored, [key]);
      const raw = await client.hgetall(key);
      assert.deepEqual(Object.keys(raw), [e.connId]);
      assert.deepEqual(JSON.parse(raw[e.connId] ?? 'null'), {
        worker: 'w1',
        ip: '10.0.0.7',
        role: 'customer',
        platform: 'ios',
        channel: 'app-store',
        since: 1_700_000_000_000,
      });
      const ttl = await client.ttl(key);
      assert.ok(ttl > 0 && ttl <= TTL, `TTL ${ttl}`);
      await client.expire(key, 5);
      await s.registry.refresh([e]);
      assert.ok((await client.ttl(key)) > 5, 'refresh pushes the expiry forward');
      await s.registry.remove([{ uid: e.uid, connId: e.connId }]);
      assert.equal(await client.exists(key), 0, 'the last field removed deletes the hash');
    });

    it('checkpoint keeps ${prefix}worker:{id} alive with a TTL and notices a flushed Redis', async () => {
      const s = backend.make();
      const { client, prefix } = s.redis ?? assert.fail('not a redis backend');
      assert.equal(await s.registry.checkpoint('w:1'), true);
      const key = `${prefix}worker:{w:1}`;
      const ttl = await client.ttl(key);
      assert.ok(ttl > 0 && ttl <= TTL, `TTL ${ttl}`);
      await client.expire(key, 5);
      assert.equal(await s.registry.checkpoint('w:1'), false);
      assert.ok((await client.ttl(key)) > 5, 'each checkpoint pushes the expiry forward');
      await s.wipe([]);
      assert.equal(await s.registry.checkpoint('w:1'), true, 'the marker went with the data');
      assert.equal(await s.registry.checkpoint('w:1'), false);
    });

    it('drops unparseable values and reports them instead of throwing', async () => {
      const lines: string[] = [];
      const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
      const s = backend.make({ logger: pino({ level: 'warn' }, sink) });
      const { client, prefix } = s.redis ?? assert.fail('not a redis backend');
      const good = entry('u1', 'w1');
      await s.registry.add([good]);
      await client.hset(
        `${prefix}conn:{u1}`,
        'customer:ios:bad',
        '{"worker":',
        'customer:web:odd',
        '{"worker":1}',
      );
      await client.hset(`${prefix}conn:{u2}`, 'customer:ios:bad', 'not json');
      assert.deepEqual(await s.registry.lookup(['u1', 'u2']), expected([good]));
      assert.equal(lines.length, 3, lines.join(''));
    });

    it('answers a batch with one pipeline per node', async () => {
      const s = backend.make();
      const { client } = s.redis ?? assert.fail('not a redis backend');
      const entries = Array.from({ length: 300 }, (_, i) => entry(`spread-${i}`, 'w1'));
      await s.registry.add(entries);
      const pipeline = client.pipeline;
      let pipelines = 0;
      client.pipeline = ((...args: Parameters<typeof pipeline>) => {
        pipelines++;
        return pipeline.apply(client, args);
      }) as typeof pipeline;
      try {
        assert.equal((await s.registry.lookup(entries.map((e) => e.uid))).size, entries.length);
      } finally {
        client.pipeline = pipeline;
      }
      assert.equal(pipelines, isCluster(client) ? client.nodes('master').length : 1);
    });
  });
}

const memory: Backend = {
  start: async () => {},
  stop: async () => {},
  make: () => {
    const registry = new MemoryRegistry();
    return { registry, wipe: (entries) => registry.remove(entries) };
  },
};

function standalone(): Backend {
  let server: Awaited<ReturnType<typeof startRedis>> | undefined;
  let client: RedisClient | undefined;
  const get = () => client ?? assert.fail('redis not started');
  return {
    start: async () => {
      server = await startRedis();
      client = createRedis(configSchema.parse({ redis: { url: server.url } }).redis);
    },
    stop: async () => {
      await client?.quit();
      await server?.stop();
    },
    make: redisBackend(get),
  };
}

function cluster(): Backend {
  let servers: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
  let client: RedisClient | undefined;
  const get = () => client ?? assert.fail('redis cluster not started');
  return {
    start: async () => {
      servers = await startRedisCluster();
      client = createRedis(configSchema.parse({ redis: { mode: 'cluster', nodes: servers.nodes } }).redis);
      await client.ping();
    },
    stop: async () => {
      await client?.quit();
      await servers?.stop();
    },
    make: redisBackend(get),
  };
}

/** Starts the backend once for everything inside, so the cluster is built once per file. */
function suite(name: string, backend: Backend, more: () => void = () => {}): void {
  describe(name, () => {
    before(() => backend.start());
    after(() => backend.stop());
    registryContract(backend);
    more();
  });
}

suite('MemoryRegistry', memory);

const single = standalone();
suite('RedisRegistry on standalone Redis', single, () => redisKeyContract(single));

const spread = cluster();
suite('RedisRegistry on a 3-master Redis Cluster', spread, () => {
  redisKeyContract(spread);

  it('hashes keys like Redis and finds uids spread over every master in one call', async () => {
    const s = spread.make();
    const { client, prefix } = s.redis ?? assert.fail('not a redis backend');
    assert.ok(isCluster(client));
    const entries = Array.from({ length: 200 }, (_, i) => entry(`spread-${i}`, `w${i % 3}`));
    await s.registry.add(entries);
    for (const e of entries.slice(0, 20)) {
      const key = `${prefix}conn:{${e.uid}}`;
      assert.equal(keySlot(key), await client.cluster('KEYSLOT', key), key);
    }
    const owners = new Set(entries.map((e) => client.slots[keySlot(`${prefix}conn:{${e.uid}}`)]?.[0]));
    assert.equal(owners.size, 3, `masters holding the keys: ${[...owners].join(', ')}`);
    assert.deepEqual(await s.registry.lookup(entries.map((e) => e.uid)), expected(entries));
  });
});

describe('createRedis', () => {
  const redis = (section: object) => configSchema.parse({ redis: section }).redis;

  it('names redis.url and redis.nodes in configuration errors', () => {
    assert.throws(
      () => createRedis(redis({ url: 'localhost:6379' })),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /^redis\.url: /);
        return true;
      },
    );
    assert.throws(() => createRedis(redis({ mode: 'cluster' })), /^ConfigError: redis\.nodes: cluster mode/);
    assert.throws(
      () => createRedis(redis({ mode: 'sentinel', nodes: ['127.0.0.1:26379', 'host-without-port'] })),
      /redis\.nodes\[1\]: expected host:port, got "host-without-port"/,
    );
  });
});
