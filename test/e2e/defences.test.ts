// The blacklist end to end on a running all-in-one, with the memory blacklist and with the Redis one
// (blacklist.driver: redis): automatic bans by connection rate and their extension, manual bans that close
// live connections with 4003 and refuse HTTP sends with 403, IP bans, and client IPs behind trusted proxies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { TestCourier } from '../support/courier.js';
import { startRedis, type StandaloneRedis } from '../support/redis.js';
import { uniqueId } from '../support/servers.js';
import { upgradeAttempt } from '../support/upgrade.js';

type Knock = { status: number; code: string; retryAfter: string | null } | { status: 101; ws: WebSocket };

/** One upgrade attempt with optional headers: the refusal's status and error code, or the open socket. */
async function knock(url: string, token: string, headers: Record<string, string> = {}): Promise<Knock> {
  const k = await upgradeAttempt(url, token, headers);
  if ('ws' in k) return k;
  const retryAfter = k.headers['retry-after'] ?? null;
  return { status: k.status, code: k.error.code, retryAfter };
}

async function status(url: string, token: string, headers: Record<string, string> = {}): Promise<number> {
  const k = await knock(url, token, headers);
  if ('ws' in k) k.ws.terminate();
  return k.status;
}

type Ban = { id: string; reason: string; expiresAt: number; auto: boolean };
type Err = { error: { code: string; field?: string } };

const variants: [string, (redis: StandaloneRedis | undefined) => Record<string, unknown>][] = [
  ['memory', () => ({})],
  [
    'redis',
    (redis) => ({
      blacklist: { driver: 'redis' },
      ratelimit: { driver: 'redis' },
      redis: { url: redis?.url, prefix: `${uniqueId('def')}:` },
    }),
  ],
];

for (const [variant, backend] of variants) {
  describe(`blacklist end to end (${variant})`, () => {
    let redis: StandaloneRedis | undefined;
    let courier: TestCourier;
    before(async () => {
      if (variant === 'redis') redis = await startRedis();
      courier = await TestCourier.start({
        ...backend(redis),
        business: { openMessaging: true },
        blacklist: { maxConnects: 3, banSeconds: 30, extendSeconds: 10, maxBanSeconds: 45 },
      });
    });
    after(async () => {
      await courier.stop();
      await redis?.stop();
    });

    it('bans a uid past maxConnects: 429 for the attempt that starts it, 403 after, extended by each', async () => {
      const uid = uniqueId('flood');
      const token = await courier.token(uid);
      for (let i = 0; i < 3; i++) assert.equal(await status(courier.wsUrl, token), 101);
      const first = await knock(courier.wsUrl, token);
      assert.deepEqual(first, { status: 429, code: 'rate_limited', retryAfter: '30' });
      const listed = async () =>
        (await courier.http<{ uids: Ban[] }>('GET', '/v1/blacklist')).json.uids.find((b) => b.id === uid);
      const ban = await listed();
      assert.ok(ban?.auto, 'listed as an automatic ban');
      const second = await knock(courier.wsUrl, token);
      assert.ok(!('ws' in second) && second.status === 403 && second.code === 'blacklisted');
      const extended = await listed();
      assert.ok(extended && extended.expiresAt >= ban.expiresAt + 9_000, 'each attempt extends by 10 s');
      await status(courier.wsUrl, token);
      assert.ok(((await listed())?.expiresAt ?? 0) <= Date.now() + 45_500, 'never past maxBanSeconds');
      const send = await courier.http<Err>(
        'POST',
        '/v1/messages',
        { to: 'x', type: 'text', content: 'hi' },
        token,
      );
      assert.equal(send.status, 403);
      assert.equal(send.json.error.code, 'blacklisted');
    });

    it('a manual ban closes every live connection with 4003 and refuses sends; unban lets the uid back', async () => {
      const uid = uniqueId('spam');
      const devices = [await courier.connect(uid, 'web'), await courier.connect(uid, 'app')];
      const bystander = await courier.connect(uniqueId('ok'));
      const put = await courier.http<Ban & { closed: number }>('PUT', `/v1/blacklist/uids/${uid}`, {
        ttlSeconds: 600,
        reason: 'spam',
      });
      assert.equal(put.status, 200, JSON.stringify(put.json));
      assert.deepEqual(
        { ...put.json, expiresAt: 0 },
        { id: uid, reason: 'spam', expiresAt: 0, auto: false, closed: 2 },
      );
      for (const device of devices) assert.equal((await device.closed).code, 4003);
      assert.equal(bystander.ws.readyState, WebSocket.OPEN, 'other users stay connected');

      const token = await courier.token(uid);
      assert.equal(await status(courier.wsUrl, token), 403);
      const own = await courier.http<Err>('GET', '/v1/gateway', undefined, token);
      assert.equal(own.json.error.code, 'blacklisted', 'a banned user token is refused everywhere');
      const asSender = await courier.http<Err>('POST', '/v1/messages', {
        from: uid,
        to: 'x',
        type: 'text',
        content: 'x',
      });
      assert.deepEqual(
        [asSender.status, asSender.json.error.code, asSender.json.error.field],
        [403, 'blacklisted', 'from'],
      );
      const batch = await courier.http<{ results: (Err | { seq: number })[] }>('POST', '/v1/messages/batch', {
        messages: [
          { from: uid, to: 'x', type: 'text', content: 'x' },
          { from: 'x', to: uid, type: 'text', content: 'to the banned user is fine' },
        ],
      });
      assert.equal((batch.json.results[0] as Err).error.code, 'blacklisted');
      assert.equal((batch.json.results[1] as { seq: number }).seq, 1);

      assert.equal((await courier.http('DELETE', `/v1/blacklist/uids/${uid}`)).status, 200);
      assert.equal((await courier.http('DELETE', `/v1/blacklist/uids/${uid}`)).status, 404);
      const back = await courier.connect(uid);
      assert.equal(back.ws.readyState, WebSocket.OPEN);
    });

    it('IP bans: validated, stored in canonical form, refuse user tokens and upgrades but not API keys', async () => {
      const bad = await courier.http<Err>('PUT', '/v1/blacklist/ips/300.1.1.1', { ttlSeconds: 60 });
      assert.deepEqual([bad.status, bad.json.error.field], [400, 'ip']);
      const v6 = await courier.http<Ban>('PUT', '/v1/blacklist/ips/2001:DB8:0:0::1', {});
      assert.equal(v6.json.id, '2001:db8::1');
      assert.ok(v6.json.expiresAt > Date.now() + 86_000_000, 'blacklist.defaultTtlSeconds when none given');
      const token = await courier.token(uniqueId('local'));
      const put = await courier.http<Ban>('PUT', '/v1/blacklist/ips/::ffff:127.0.0.1', { ttlSeconds: 60 });
      assert.equal(put.json.id, '127.0.0.1');
      try {
        assert.equal(await status(courier.wsUrl, token), 403);
        assert.equal((await courier.http('GET', '/v1/gateway', undefined, token)).status, 403);
        assert.equal((await courier.http('GET', '/v1/gateway')).status, 200, 'API keys are not IP-banned');
        const { json } = await courier.http<{ ips: Ban[] }>('GET', '/v1/blacklist');
        assert.deepEqual(json.ips.map((b) => b.id).sort(), ['127.0.0.1', '2001:db8::1']);
      } finally {
        assert.equal((await courier.http('DELETE', '/v1/blacklist/ips/127.0.0.1')).status, 200);
      }
      assert.equal(await status(courier.wsUrl, token), 101);
    });

    it('the blacklist endpoints need an API key and valid input', async () => {
      const token = await courier.token(uniqueId('user'));
      assert.equal((await courier.http('GET', '/v1/blacklist', undefined, token)).status, 403);
      assert.equal((await courier.http('GET', '/v1/blacklist', undefined, null)).status, 401);
      assert.equal((await courier.http('PUT', '/v1/blacklist/uids/a%20b', {})).status, 400);
      const cases: [unknown, string][] = [
        [{ ttlSeconds: -1 }, 'ttlSeconds'],
        [{ ttlSeconds: 1.5 }, 'ttlSeconds'],
        [{ ttlSeconds: '60' }, 'ttlSeconds'],
        [{ reason: 7 }, 'reason'],
        [{ colour: 'red' }, 'colour'],
      ];
      for (const [body, field] of cases) {
        const res = await courier.http<Err>('PUT', '/v1/blacklist/uids/valid', body);
        assert.deepEqual([res.status, res.json.error.field], [400, field], JSON.stringify(body));
      }
      assert.equal((await courier.http('GET', '/v1/blacklist?limit=0')).status, 400);
      assert.equal((await courier.http('DELETE', '/v1/blacklist/uids/valid')).status, 404, 'nothing stored');
    });
  });
}

describe('client IPs behind a trusted proxy', () => {
  let proxied: TestCourier;
  let direct: TestCourier;
  before(async () => {
    proxied = await TestCourier.start({ http: { trustedProxies: ['127.0.0.1', '::1'] } });
    direct = await TestCourier.start();
  });
  after(async () => {
    await proxied.stop();
    await direct.stop();
  });

  it('takes the right-most untrusted X-Forwarded-For address, on the worker and on the API', async () => {
    for (const c of [proxied, direct]) {
      assert.equal((await c.http('PUT', '/v1/blacklist/ips/203.0.113.9', { ttlSeconds: 60 })).status, 200);
    }
    const xff = (value: string) => ({ 'X-Forwarded-For': value });
    const token = await proxied.token(uniqueId('p'));
    assert.equal(await status(proxied.wsUrl, token, xff('203.0.113.9')), 403);
    assert.equal(
      await status(proxied.wsUrl, token, xff('203.0.113.9, 198.51.100.1')),
      101,
      'the client only wrote the left part',
    );
    assert.equal(await status(proxied.wsUrl, token, xff('198.51.100.1, 203.0.113.9')), 403);
    const viaProxy = await fetch(`${proxied.baseUrl}/v1/gateway`, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(viaProxy.status, 403);

    const directToken = await direct.token(uniqueId('d'));
    assert.equal(
      await status(direct.wsUrl, directToken, xff('203.0.113.9')),
      101,
      'no trusted proxy: the header is ignored',
    );
    const spoofed = await fetch(`${direct.baseUrl}/v1/gateway`, {
      headers: { authorization: `Bearer ${directToken}`, 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal(spoofed.status, 200);
  });
});
