// One contract for every Blacklist and every RateLimiter: the memory defaults, Redis standalone and a real
// 3-master Redis Cluster. Waits for expiry are polls of the backend's own answer, never fixed sleeps.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AutoBanOptions, Blacklist } from '../../internal/blacklist/blacklist.js';
import { MemoryBlacklist } from '../../internal/blacklist/memory-blacklist.js';
import { RedisBlacklist } from '../../internal/blacklist/redis-blacklist.js';
import { configSchema } from '../../internal/config/schema.js';
import { MemoryRateLimiter } from '../../internal/ratelimit/memory-rate-limiter.js';
import type { RateLimiter, RateRule } from '../../internal/ratelimit/rate-limiter.js';
import { RedisRateLimiter } from '../../internal/ratelimit/redis-rate-limiter.js';
import { createRedis, type RedisClient } from '../../internal/redis/client.js';
import { startRedis, startRedisCluster } from '../support/redis.js';
import { uniqueId, waitFor } from '../support/servers.js';

interface Made<T> {
  /** Instances sharing one state (one prefix on one Redis), each on its own client like separate nodes. */
  instances: T[];
  /** EXISTS on the raw key (Redis only), to pin the key layout of DESIGN §5. */
  exists?: (key: string) => Promise<boolean>;
  prefix: string;
}

interface Backend {
  shared: boolean; // false: the memory implementations cannot share state, so one instance only
  start(): Promise<void>;
  stop(): Promise<void>;
  blacklist(options: Partial<AutoBanOptions>, instances?: number): Made<Blacklist>;
  limiter(rule: RateRule, instances?: number): Made<RateLimiter>;
}

const LONG = 60_000;

function blacklistContract(backend: Backend): void {
  describe('Blacklist contract', () => {
    const open: Blacklist[] = [];
    const make = (options: Partial<AutoBanOptions> = {}, instances = 1) => {
      const made = backend.blacklist({ windowMs: LONG, ...options }, instances);
      open.push(...made.instances);
      return { ...made, bl: made.instances[0] as Blacklist };
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('bans and unbans by hand, with reason and expiry; uid bans win over IP bans', async () => {
      const { bl } = make();
      const before = Date.now();
      const ban = await bl.ban('uid', 'alice', 30_000, 'spam');
      assert.deepEqual(
        { ...ban, expiresAt: 0 },
        { kind: 'uid', id: 'alice', reason: 'spam', expiresAt: 0, auto: false },
      );
      assert.ok(Math.abs(ban.expiresAt - (before + 30_000)) < 2_000, 'expiry is ttl from now');
      assert.deepEqual(await bl.check({ uid: 'alice' }), ban);
      assert.equal(await bl.check({ uid: 'bob', ip: '10.0.0.1' }), null);

      await bl.ban('ip', '10.0.0.1', 30_000, 'flood');
      assert.equal((await bl.check({ uid: 'bob', ip: '10.0.0.1' }))?.kind, 'ip');
      assert.equal((await bl.check({ uid: 'alice', ip: '10.0.0.1' }))?.kind, 'uid');

      assert.equal(await bl.unban('uid', 'alice'), true);
      assert.equal(await bl.unban('uid', 'alice'), false, 'nothing left to lift');
      assert.equal(await bl.check({ uid: 'alice' }), null);
    });

    it('a ban ends by itself at its expiry and leaves the list', async () => {
      const { bl } = make();
      await bl.ban('uid', 'brief', 300, 'short');
      await bl.ban('ip', '::1', 300, 'short');
      assert.equal((await bl.list(10)).uids.length, 1);
      await waitFor(
        'ban expiry',
        async () => (await bl.check({ uid: 'brief', ip: '::1' })) === null,
        5_000,
        25,
      );
      assert.deepEqual(await bl.list(10), { uids: [], ips: [] });
    });

    it('lists bans in force, soonest expiry first, with the auto flag, without unbanned ones', async () => {
      const { bl } = make({ maxConnects: 1 });
      await bl.ban('uid', 'late', 50_000, 'late');
      await bl.ban('uid', 'soon', 20_000, 'soon');
      await bl.ban('uid', 'gone', 30_000, 'lifted');
      await bl.unban('uid', 'gone');
      await bl.ban('ip', '2001:db8::7', 40_000, 'v6');
      assert.equal((await bl.attempt({ uid: 'eager', ip: '10.1.1.1' })).ok, true);
      assert.equal((await bl.attempt({ uid: 'eager', ip: '10.1.1.2' })).ok, false);
      const list = await bl.list(10);
      assert.deepEqual(
        list.uids.map((b) => [b.id, b.auto]),
        [
          ['soon', false],
          ['late', false],
          ['eager', true], // an automatic ban lasts banMs (5 minutes by default)
        ],
      );
      assert.deepEqual(
        list.ips.map((b) => [b.id, b.reason]),
        [['2001:db8::7', 'v6']],
      );
      assert.equal((await bl.list(1)).uids.length, 1, 'limit per kind');
    });

    it('bans a uid automatically past maxConnects in the window; attempts during it extend it up to the cap', async () => {
      const o = { maxConnects: 3, banMs: 10_000, extendMs: 1_000, maxBanMs: 12_500 };
      const { bl } = make(o);
      for (let i = 0; i < 3; i++)
        assert.deepEqual(await bl.attempt({ uid: 'u', ip: `10.0.0.${i}` }), { ok: true });
      const first = await bl.attempt({ uid: 'u', ip: '10.0.0.9' });
      assert.ok(!first.ok && first.fresh, 'the attempt over the limit starts the ban');
      assert.equal(first.ban.auto, true);
      assert.equal(first.ban.kind, 'uid');
      let last = first.ban.expiresAt;
      for (let i = 0; i < 5; i++) {
        const again = await bl.attempt({ uid: 'u', ip: '10.0.0.9' });
        assert.ok(!again.ok && !again.fresh, 'later attempts are refused as banned');
        assert.ok(again.ban.expiresAt >= last, 'never shortened');
        if (i === 0) assert.ok(again.ban.expiresAt >= last + 900, 'extended by extendMs');
        last = again.ban.expiresAt;
      }
      assert.ok(last <= Date.now() + o.maxBanMs + 500, 'capped at maxBanMs from now');
      assert.equal((await bl.check({ uid: 'u' }))?.expiresAt, last);
    });

    it('bans an IP automatically past maxConnectsPerIp, whatever the uids', async () => {
      const { bl } = make({ maxConnects: 100, maxConnectsPerIp: 3 });
      for (let i = 0; i < 3; i++)
        assert.equal((await bl.attempt({ uid: `n${i}`, ip: '192.0.2.1' })).ok, true);
      const over = await bl.attempt({ uid: 'n3', ip: '192.0.2.1' });
      assert.ok(!over.ok && over.fresh && over.ban.kind === 'ip' && over.ban.id === '192.0.2.1');
      const next = await bl.attempt({ uid: 'fresh-user', ip: '192.0.2.1' });
      assert.ok(!next.ok && !next.fresh);
      assert.equal((await bl.attempt({ uid: 'n0', ip: '192.0.2.2' })).ok, true, 'another IP is fine');
    });

    it('counts afresh once the window has passed', async () => {
      const { bl } = make({ maxConnects: 2, windowMs: 400 });
      assert.equal((await bl.attempt({ uid: 'w', ip: '10.9.0.1' })).ok, true);
      assert.equal((await bl.attempt({ uid: 'w', ip: '10.9.0.1' })).ok, true);
      // A ban set now with the window's length ends after the window does, by the backend's own clock.
      await bl.ban('uid', 'probe', 400, 'clock');
      await waitFor('the window to pass', async () => (await bl.check({ uid: 'probe' })) === null, 5_000, 25);
      assert.equal((await bl.attempt({ uid: 'w', ip: '10.9.0.1' })).ok, true);
      assert.equal((await bl.attempt({ uid: 'w', ip: '10.9.0.1' })).ok, true);
      assert.equal((await bl.attempt({ uid: 'w', ip: '10.9.0.1' })).ok, false);
    });

    it('a manual ban replaces an automatic one and is not extended; unban forgets the count', async () => {
      const { bl } = make({ maxConnects: 2, extendMs: 5_000 });
      for (let i = 0; i < 3; i++) await bl.attempt({ uid: 'm', ip: '10.2.0.1' });
      const manual = await bl.ban('uid', 'm', 20_000, 'by hand');
      const during = await bl.attempt({ uid: 'm', ip: '10.2.0.1' });
      assert.ok(!during.ok && !during.fresh);
      assert.equal(during.ban.auto, false);
      assert.equal(during.ban.expiresAt, manual.expiresAt, 'attempts do not extend a manual ban');
      assert.equal(await bl.unban('uid', 'm'), true);
      assert.equal((await bl.attempt({ uid: 'm', ip: '10.2.0.1' })).ok, true);
      assert.equal((await bl.attempt({ uid: 'm', ip: '10.2.0.1' })).ok, true, 'the count started again');
    });

    it('is atomic: of 40 concurrent attempts with a limit of 10, exactly 10 pass and one starts the ban', async () => {
      const n = backend.shared ? 3 : 1;
      const { instances } = make({ maxConnects: 10 }, n);
      const verdicts = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (instances[i % n] as Blacklist).attempt({ uid: 'race', ip: `10.3.${i}.1` }),
        ),
      );
      assert.equal(verdicts.filter((v) => v.ok).length, 10);
      assert.equal(verdicts.filter((v) => !v.ok && v.fresh).length, 1);
      if (backend.shared)
        assert.equal((await (instances[1] as Blacklist).check({ uid: 'race' }))?.auto, true);
    });

    it('a check made after ban() or unban() returns sees it, whatever checks of the uid are still out', async () => {
      const { bl } = make();
      for (let round = 0; round < 3; round++) {
        const early = Array.from({ length: 50 }, () => bl.check({ uid: 'racer' }));
        await bl.ban('uid', 'racer', 30_000, 'race');
        assert.equal((await bl.check({ uid: 'racer' }))?.reason, 'race', `round ${round}: banned`);
        const during = Array.from({ length: 50 }, () => bl.check({ uid: 'racer' }));
        await bl.unban('uid', 'racer');
        assert.equal(await bl.check({ uid: 'racer' }), null, `round ${round}: unbanned`);
        for (const answer of await Promise.all([...early, ...during]))
          assert.ok(answer === null || answer.reason === 'race', 'every answer is one of the two states');
      }
    });

    // Redis only: the memory blacklist has no keys to inspect, so the test is not registered for it.
    const keyed = backend.shared;
    if (keyed)
      it('keeps bans and counters under the keys of DESIGN §5', async () => {
        const made = make({ maxConnects: 5 });
        if (!made.exists) throw new Error('a shared (Redis) backend must expose its keys');
        await made.bl.ban('uid', 'keyed', 10_000, 'k');
        await made.bl.attempt({ uid: 'counted', ip: '10.4.0.1' });
        assert.equal(await made.exists(`${made.prefix}ban:uid:{keyed}`), true);
        assert.equal(await made.exists(`${made.prefix}ban:uid:{counted}:attempts`), true);
        assert.equal(await made.exists(`${made.prefix}ban:ip:{10.4.0.1}:attempts`), true);
        assert.equal(await made.exists(`${made.prefix}ban:index:{uid}`), true);
      });
  });
}

function rateLimiterContract(backend: Backend): void {
  describe('RateLimiter contract', () => {
    const open: RateLimiter[] = [];
    const make = (rule: RateRule, instances = 1) => {
      const made = backend.limiter(rule, instances).instances;
      open.push(...made);
      return made;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((l) => l.close()));
    });

    it('lets a burst through, then refuses with the wait until the next token, then refills', async () => {
      const [limiter] = make({ perSecond: 4, burst: 3 });
      assert.ok(limiter);
      for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.take('k'), { ok: true });
      const refused = await limiter.take('k');
      assert.ok(
        !refused.ok && refused.retryAfterMs > 0 && refused.retryAfterMs <= 250,
        JSON.stringify(refused),
      );
      assert.deepEqual(await limiter.take('other'), { ok: true }, 'each id has its own bucket');
      await waitFor('a token to come back', async () => (await limiter.take('k')).ok, 3_000, 50);
    });

    it('is atomic and shared: of 30 concurrent takes on a bucket of 10, exactly 10 pass', async () => {
      const n = backend.shared ? 3 : 1;
      const limiters = make({ perSecond: 0.001, burst: 10 }, n);
      const verdicts = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (limiters[i % n] as RateLimiter).take('shared')),
      );
      assert.equal(verdicts.filter((v) => v.ok).length, 10);
    });
  });
}

function redisBackend(start: () => Promise<{ config: object; stop: () => Promise<void> }>): Backend {
  let stopServer: (() => Promise<void>) | undefined;
  let config: object = {};
  const clients: RedisClient[] = [];
  const connect = () => {
    const client = createRedis(configSchema.parse({ redis: config }).redis);
    clients.push(client);
    return client;
  };
  const made = <T>(n: number, build: (prefix: string, client: RedisClient) => T): Made<T> => {
    const prefix = `${uniqueId('courier-test-')}:`;
    const instances = Array.from({ length: n }, () => build(prefix, connect()));
    const probe = clients[clients.length - 1] as RedisClient;
    return { instances, prefix, exists: async (key) => (await probe.exists(key)) === 1 };
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
    blacklist: (options, n = 1) =>
      made(n, (prefix, client) => new RedisBlacklist({ ...options, prefix }, client)),
    limiter: (rule, n = 1) =>
      made(n, (prefix, client) => new RedisRateLimiter({ ...rule, prefix, name: 'test' }, client)),
  };
}

const backends: [string, Backend][] = [
  [
    'memory (one instance: it cannot share state across processes)',
    {
      shared: false,
      start: async () => {},
      stop: async () => {},
      blacklist: (options) => ({ instances: [new MemoryBlacklist(options)], prefix: '' }),
      limiter: (rule) => ({ instances: [new MemoryRateLimiter(rule)], prefix: '' }),
    },
  ],
  [
    'Redis standalone',
    redisBackend(async () => {
      const server = await startRedis();
      return { config: { url: server.url }, stop: () => server.stop() };
    }),
  ],
  [
    'Redis Cluster (3 masters)',
    redisBackend(async () => {
      const servers = await startRedisCluster();
      return { config: { mode: 'cluster', nodes: servers.nodes }, stop: () => servers.stop() };
    }),
  ],
];

describe('RedisBlacklist reads', () => {
  let server: Awaited<ReturnType<typeof startRedis>>;
  let client: RedisClient;
  before(async () => {
    server = await startRedis();
    client = createRedis(configSchema.parse({ redis: { url: server.url } }).redis);
  });
  after(async () => {
    await client.quit();
    await server.stop();
  });

  const hmgets = async () =>
    Number(/cmdstat_hmget:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);

  it('checks of one uid made while a read of it is out share that read', async () => {
    const bl = new RedisBlacklist({ prefix: `${uniqueId('courier-test-')}:` }, client);
    await bl.ban('uid', 'hot', 30_000, 'x');
    const before = await hmgets();
    const answers = await Promise.all(Array.from({ length: 200 }, () => bl.check({ uid: 'hot' })));
    assert.ok(answers.every((a) => a?.reason === 'x'));
    const reads = (await hmgets()) - before;
    assert.ok(reads >= 1 && reads <= 2, `200 concurrent checks of one uid took ${reads} HMGETs`);
    await bl.close();
  });
});

for (const [name, backend] of backends) {
  describe(name, () => {
    before(() => backend.start());
    after(() => backend.stop());
    blacklistContract(backend);
    rateLimiterContract(backend);
  });
}
