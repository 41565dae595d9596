// RedisBlacklist's check cache (CheckCache): answers from memory, and every change to a ban reaches every
// node over pub/sub, on Redis standalone and on a real 3-master Cluster. Nodes remember answers for a minute
// here, so a change seen within the test's waits can only have come from the change messages.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CheckCache } from '../../internal/blacklist/check-cache.js';
import { RedisBlacklist } from '../../internal/blacklist/redis-blacklist.js';
import { configSchema } from '../../internal/config/schema.js';
import { createRedis, isCluster, type RedisClient } from '../../internal/redis/client.js';
import { startRedis, startRedisCluster } from '../support/redis.js';
import { uniqueId, waitFor } from '../support/servers.js';

const REMEMBER_MS = 60_000;
const HEARD_WITHIN_MS = 5_000;

interface Server {
  config: object;
  stop: () => Promise<void>;
}

const servers: [string, () => Promise<Server>][] = [
  [
    'Redis standalone',
    async () => {
      const server = await startRedis();
      return { config: { url: server.url }, stop: () => server.stop() };
    },
  ],
  [
    'Redis Cluster (3 masters)',
    async () => {
      const servers = await startRedisCluster();
      return { config: { mode: 'cluster', nodes: servers.nodes }, stop: () => servers.stop() };
    },
  ],
];

for (const [name, start] of servers) {
  describe(`RedisBlacklist check cache on ${name}`, () => {
    let server: Server;
    const clients: RedisClient[] = [];
    const open: RedisBlacklist[] = [];
    const connect = () => {
      const client = createRedis(configSchema.parse({ redis: server.config }).redis);
      clients.push(client);
      return client;
    };
    /** Nodes sharing one prefix, each on its own client, with their subscriptions up. */
    const nodes = async (n: number, options: { maxConnects?: number } = {}) => {
      const prefix = `${uniqueId('courier-test-')}:`;
      const made = Array.from(
        { length: n },
        () => new RedisBlacklist({ ...options, prefix, checkCacheMs: REMEMBER_MS }, connect()),
      );
      open.push(...made);
      await waitFor('ban-change subscriptions', () => made.every((b) => b.remembering));
      return { prefix, made };
    };
    /** A ban written behind the blacklist's back, without the message every courier node publishes. */
    const banUnannounced = async (prefix: string, uid: string) => {
      const raw = clients[0] as RedisClient;
      await raw.hset(
        `${prefix}ban:uid:{${uid}}`,
        'reason',
        'x',
        'auto',
        '0',
        'expiresAt',
        Date.now() + 60_000,
      );
    };
    before(async () => {
      server = await start();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });
    after(async () => {
      await Promise.allSettled(clients.map((c) => c.quit()));
      await server.stop();
    });

    it('answers a check from memory: a write that announces nothing is not seen', async () => {
      const { prefix, made } = await nodes(1);
      const [bl] = made as [RedisBlacklist];
      assert.equal(await bl.check({ uid: 'quiet' }), null);
      await banUnannounced(prefix, 'quiet');
      assert.equal(await bl.check({ uid: 'quiet' }), null, 'remembered, not read again');
      assert.equal((await bl.check({ uid: 'other' }))?.reason, undefined);
    });

    it('a ban, an unban and a fresh automatic ban made on one node reach another that remembered', async () => {
      const { made } = await nodes(2, { maxConnects: 2 });
      const [a, b] = made as [RedisBlacklist, RedisBlacklist];
      const banned = async (uid: string) => (await b.check({ uid })) !== null;

      assert.equal(await b.check({ uid: 'carol' }), null);
      await a.ban('uid', 'carol', 60_000, 'spam');
      await waitFor('the ban heard on the other node', () => banned('carol'), HEARD_WITHIN_MS);
      await a.unban('uid', 'carol');
      await waitFor(
        'the unban heard on the other node',
        async () => !(await banned('carol')),
        HEARD_WITHIN_MS,
      );

      assert.equal(await b.check({ uid: 'dave' }), null);
      for (let i = 0; i < 3; i++) await a.attempt({ uid: 'dave', ip: '10.9.0.1' });
      await waitFor('the automatic ban heard on the other node', () => banned('dave'), HEARD_WITHIN_MS);
      assert.equal((await b.check({ uid: 'dave' }))?.auto, true);
    });

    it('a node sees its own ban and unban as soon as they return', async () => {
      const { made } = await nodes(1);
      const [bl] = made as [RedisBlacklist];
      assert.equal(await bl.check({ uid: 'erin', ip: '10.9.0.2' }), null);
      await bl.ban('ip', '10.9.0.2', 60_000, 'flood');
      assert.equal((await bl.check({ uid: 'erin', ip: '10.9.0.2' }))?.kind, 'ip');
      await bl.unban('ip', '10.9.0.2');
      assert.equal(await bl.check({ uid: 'erin', ip: '10.9.0.2' }), null);
    });

    it('forgets everything when its subscription drops, and remembers again once it is back', async () => {
      const { prefix, made } = await nodes(1);
      const [bl] = made as [RedisBlacklist];
      assert.equal(await bl.check({ uid: 'frank' }), null);
      // Drop every pub/sub connection, then change the ban without a message: as if it had been published
      // while this node was not listening.
      const raw = clients[0] as RedisClient;
      const masters = isCluster(raw) ? raw.nodes('master') : [raw];
      await Promise.all(masters.map((m) => m.call('CLIENT', 'KILL', 'TYPE', 'pubsub')));
      await banUnannounced(prefix, 'frank');
      await waitFor(
        'the change read after the drop',
        async () => (await bl.check({ uid: 'frank' })) !== null,
      );
      await waitFor('the subscription back', () => bl.remembering);
    });

    it('drops answers older than their age even if nobody asks for them again', async () => {
      const cache = new CheckCache(connect(), uniqueId('changes-'), 200);
      try {
        await waitFor('subscription', () => cache.active);
        for (const key of ['a', 'b', 'c']) cache.remember(key, null, cache.version);
        assert.equal(cache.size, 3);
        await waitFor('the sweep', () => cache.size === 0, 5_000);
      } finally {
        await cache.close();
      }
    });

    it('does not remember a read that a change overtook, nor a ban past its end', async () => {
      const cache = new CheckCache(connect(), uniqueId('changes-'), REMEMBER_MS);
      try {
        await waitFor('subscription', () => cache.active);
        const before = cache.version;
        cache.forget('k'); // heard while the read was out
        cache.remember('k', null, before);
        assert.equal(cache.get('k'), undefined, 'a read answered before the change is not kept');
        cache.remember('k', null, cache.version);
        assert.equal(cache.get('k'), null, 'a read after it is');
        const ending = { kind: 'uid', id: 'x', reason: '', expiresAt: Date.now() - 1, auto: false } as const;
        cache.remember('e', ending, cache.version);
        assert.equal(cache.get('e'), undefined, 'a ban is never served past its expiry');
      } finally {
        await cache.close();
      }
    });
  });
}
