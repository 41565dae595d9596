// Pure rules of the defences, on a fake clock: ban windows and extensions, token buckets, client IPs behind
// trusted proxies, and the config keys that drive them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blacklistAdmit } from '../../internal/blacklist/admit.js';
import { autoBanOptions } from '../../internal/blacklist/blacklist.js';
import { canonicalIp, ClientIp, parseIpRange } from '../../internal/blacklist/client-ip.js';
import { MemoryBlacklist } from '../../internal/blacklist/memory-blacklist.js';
import { buildConfig, ConfigError } from '../../internal/config/load.js';
import { silentLogger } from '../../internal/log/logger.js';
import { Backends } from '../../internal/node/backends.js';
import { MemoryRateLimiter } from '../../internal/ratelimit/memory-rate-limiter.js';
import { takeToken } from '../../internal/ratelimit/rate-limiter.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('automatic bans on a fake clock', () => {
  it('counts from the first attempt for windowMs, then starts again', async () => {
    const t = clock();
    const bl = new MemoryBlacklist({ maxConnects: 2, windowMs: 1_000, now: t.now });
    const attempt = () => bl.attempt({ uid: 'u', ip: '10.0.0.1' });
    assert.equal((await attempt()).ok, true);
    t.advance(999);
    assert.equal((await attempt()).ok, true);
    t.advance(1); // the window of the first attempt is over
    assert.equal((await attempt()).ok, true);
    assert.equal((await attempt()).ok, true);
    const over = await attempt();
    assert.ok(!over.ok && over.fresh);
    assert.equal(over.ban.expiresAt, t.now() + 300_000, 'banMs by default');
  });

  it('extends by extendMs per attempt, never past now + maxBanMs, and ends on time', async () => {
    const t = clock();
    const bl = new MemoryBlacklist({
      maxConnects: 1,
      banMs: 10_000,
      extendMs: 4_000,
      maxBanMs: 15_000,
      now: t.now,
    });
    await bl.attempt({ uid: 'x', ip: '1.1.1.1' });
    const start = t.now();
    const expiries: number[] = [];
    for (let i = 0; i < 4; i++) {
      const v = await bl.attempt({ uid: 'x', ip: '1.1.1.1' });
      assert.ok(!v.ok);
      expiries.push(v.ban.expiresAt);
    }
    // The ban: 10 s; then +4 s → 14 s, +4 s capped at 15 s, and stays there.
    assert.deepEqual(
      expiries,
      [10_000, 14_000, 15_000, 15_000].map((ms) => start + ms),
    );
    t.advance(15_000);
    assert.equal(await bl.check({ uid: 'x' }), null);
    assert.equal((await bl.attempt({ uid: 'x', ip: '1.1.1.1' })).ok, true, 'counting starts again');
  });

  it('0 turns a kind of automatic ban off', async () => {
    const bl = new MemoryBlacklist({ maxConnects: 0, maxConnectsPerIp: 0 });
    for (let i = 0; i < 50; i++) assert.equal((await bl.attempt({ uid: 'u', ip: '1.1.1.1' })).ok, true);
  });

  it('refuses options that cannot work, naming them', async () => {
    assert.throws(() => autoBanOptions({ banMs: 10, maxBanMs: 5 }), /maxBanMs/);
    assert.throws(() => autoBanOptions({ windowMs: 0 }), /windowMs/);
    assert.throws(() => autoBanOptions({ maxConnects: -1 }), /maxConnects/);
    await assert.rejects(new MemoryBlacklist().ban('uid', 'u', 0, 'r'), /ttl/);
  });

  it('the admit hook answers 429 for the attempt that starts a ban and 403 during it', async () => {
    const t = clock();
    const admit = blacklistAdmit(new MemoryBlacklist({ maxConnects: 1, banMs: 5_000, now: t.now }), t.now);
    assert.deepEqual(await admit({ uid: 'a', ip: '::1' }), { ok: true });
    const first = await admit({ uid: 'a', ip: '::1' });
    assert.ok(
      !first.ok && first.status === 429 && first.code === 'rate_limited' && first.retryAfterSeconds === 5,
    );
    const second = await admit({ uid: 'a', ip: '::1' });
    assert.ok(!second.ok && second.status === 403 && second.code === 'blacklisted');
  });
});

describe('token buckets', () => {
  it('takes a token when there is one and says how long until the next', () => {
    const rule = { perSecond: 2, burst: 2 };
    const bucket = { tokens: 2, at: 0 };
    assert.equal(takeToken(bucket, 0, rule), 0);
    assert.equal(takeToken(bucket, 0, rule), 0);
    assert.equal(takeToken(bucket, 0, rule), 500);
    assert.equal(takeToken(bucket, 250, rule), 250, 'half a token refilled');
    assert.equal(takeToken(bucket, 500, rule), 0);
    assert.equal(takeToken(bucket, 100_000, rule), 0, 'refill stops at the burst');
    assert.equal(bucket.tokens, 1);
  });

  it('the memory limiter keeps a bucket per id and forgets full ones', async () => {
    const t = clock();
    const limiter = new MemoryRateLimiter({ perSecond: 1, burst: 1, now: t.now });
    assert.deepEqual(await limiter.take('a'), { ok: true });
    assert.deepEqual(await limiter.take('a'), { ok: false, retryAfterMs: 1_000 });
    assert.deepEqual(await limiter.take('b'), { ok: true });
    t.advance(1_000);
    assert.deepEqual(await limiter.take('a'), { ok: true });
    assert.throws(() => new MemoryRateLimiter({ perSecond: 0, burst: 1 }), /perSecond/);
  });
});

describe('client IPs', () => {
  it('spells every address one way', () => {
    assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalIp('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIp('::FFFF:c000:201'), '192.0.2.1');
    assert.equal(canonicalIp(' 10.0.0.1 '), '10.0.0.1');
    for (const bad of ['', 'localhost', '1.2.3', '256.0.0.1', '01.2.3.4', 'fe80::1%eth0', '::g']) {
      assert.equal(canonicalIp(bad), null, bad);
    }
    assert.deepEqual(parseIpRange('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.equal(parseIpRange('10.0.0.0/33'), null);
    assert.equal(parseIpRange('::/0')?.prefix, 0);
  });

  it('believes X-Forwarded-For only from trusted proxies, right to left, up to the first untrusted hop', () => {
    const ip = new ClientIp(['10.0.0.0/8', '::1']);
    assert.equal(ip.resolve('203.0.113.1', '198.51.100.1'), '203.0.113.1', 'an untrusted peer is the client');
    assert.equal(ip.resolve('10.0.0.5', undefined), '10.0.0.5', 'no header: the proxy itself');
    assert.equal(ip.resolve('10.0.0.5', 'spoofed, 198.51.100.1, 10.2.2.2'), '198.51.100.1');
    assert.equal(ip.resolve('::ffff:10.0.0.5', ['1.1.1.1', '2.2.2.2']), '2.2.2.2', 'repeated headers');
    assert.equal(ip.resolve('::1', 'not-an-ip'), '::1', 'garbage stops the walk at the trusted hop');
    assert.equal(ip.resolve('10.0.0.5', '10.0.0.7, 10.0.0.6'), '10.0.0.7', 'all trusted: the left-most');
    assert.equal(ip.resolve('10.0.0.5', '[2001:DB8::2]:443'), '2001:db8::2');
    assert.equal(new ClientIp().resolve('10.0.0.5', '1.1.1.1'), '10.0.0.5', 'nobody trusted by default');
    assert.throws(() => new ClientIp(['10.0.0.0/8', 'proxy.local']), /http\.trustedProxies\[1\]/);
  });
});

describe('config', () => {
  it('has defaults for every defence, mapped to COURIER_* variables', () => {
    const c = buildConfig(
      {},
      { COURIER_BLACKLIST_MAX_CONNECTS: '5', COURIER_HTTP_TRUSTED_PROXIES: '[10.0.0.0/8]' },
    );
    assert.equal(c.blacklist.maxConnects, 5);
    assert.deepEqual(c.http.trustedProxies, ['10.0.0.0/8']);
    assert.equal(c.blacklist.windowSeconds, 60);
    assert.equal(c.blacklist.banSeconds, 300);
    assert.equal(c.blacklist.driver, undefined, 'follows registry.driver');
    assert.deepEqual(c.ratelimit.user, { perSecond: 20, burst: 40 });
    assert.equal(c.worker.handshakeTimeoutMs, 10_000);
    assert.equal(c.worker.maxFramesPerSecond, 100);
  });

  it('names the key of a bad value', () => {
    assert.throws(() => buildConfig({ http: { trustedProxies: ['nope'] } }), /http\.trustedProxies\.0/);
    assert.throws(() => buildConfig({ ratelimit: { user: { burst: 0 } } }), /ratelimit\.user\.burst/);
    const config = buildConfig({ blacklist: { banSeconds: 600, maxBanSeconds: 60 } });
    assert.throws(
      () => new Backends(config, silentLogger()).blacklist(),
      (err: Error) => err instanceof ConfigError && /blacklist\.maxBanSeconds/.test(err.message),
    );
  });
});
