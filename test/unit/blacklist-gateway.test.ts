// The worker's defences at the gateway, with fakes for everything but the WebSocket: admission through the
// blacklist (429 then 403, no registry write), the handshake time cap, client IPs behind trusted proxies,
// and the per-connection frame cap.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { Claims, TokenVerifier } from '../../internal/auth/claims.js';
import { blacklistAdmit } from '../../internal/blacklist/admit.js';
import { ClientIp } from '../../internal/blacklist/client-ip.js';
import { MemoryBlacklist } from '../../internal/blacklist/memory-blacklist.js';
import { CourierError } from '../../internal/errors.js';
import { silentLogger } from '../../internal/log/logger.js';
import type { ServerFrame } from '../../internal/protocol/frames.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import type { Uplink } from '../../internal/worker/uplink.js';
import { WsGateway, type WsGatewayDeps, type WsGatewayOptions } from '../../internal/worker/ws-gateway.js';
import { waitFor } from '../support/servers.js';

/** Token = uid; `hang` never answers, like a verifier whose key server is unreachable. */
const verifier: TokenVerifier = {
  verify: (token) =>
    token === 'hang'
      ? new Promise<Claims>(() => undefined)
      : token === 'bad'
        ? Promise.reject(new CourierError('unauthorized', 'invalid token'))
        : Promise.resolve({
            uid: token,
            role: 'customer',
            platform: 'web',
            expiresAt: Date.now() + 3_600_000,
          }),
};

const uplink: Uplink = {
  send: () => Promise.reject(new Error('not used')),
  sync: () => Promise.reject(new Error('not used')),
  read: () => Promise.reject(new Error('not used')),
};

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function start(options: Partial<WsGatewayOptions> = {}, deps: Partial<WsGatewayDeps> = {}) {
  const registry = new MemoryRegistry();
  let adds = 0;
  const add = registry.add.bind(registry);
  registry.add = (entries) => {
    adds += entries.length;
    return add(entries);
  };
  const gateway = new WsGateway(
    { workerId: 'w1', tickMs: 10, ...options },
    { verifier, registry, uplink, logger: silentLogger(), ...deps },
  );
  const server = createServer((_req, res) => res.writeHead(404).end());
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await gateway.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  return { gateway, registry, url, adds: () => adds };
}

type Outcome =
  | { open: true; ws: WebSocket; frames: ServerFrame[]; closed: Promise<number> }
  | { open: false; status: number; code: string; retryAfter: string | undefined };

function knock(url: string, token: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const ws = new WebSocket(`${url}?token=${token}`, { headers });
  cleanups.push(async () => ws.terminate());
  const frames: ServerFrame[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data)) as ServerFrame));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.on('open', () => resolve({ open: true, ws, frames, closed }));
    ws.on('error', () => undefined); // the aborted request after 'unexpected-response'
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          const { error } = JSON.parse(body) as { error: { code: string } };
          const retryAfter = res.headers['retry-after'];
          resolve({ open: false, status: res.statusCode ?? 0, code: error.code, retryAfter });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  });
}

test('the attempt over the limit is refused 429 with Retry-After, later ones 403, none touching the registry', async () => {
  const blacklist = new MemoryBlacklist({ maxConnects: 2, banMs: 30_000 });
  const h = await start({}, { admit: blacklistAdmit(blacklist) });
  for (let i = 0; i < 2; i++) assert.equal((await knock(h.url, 'flood')).open, true);
  const over = await knock(h.url, 'flood');
  assert.deepEqual(over, { open: false, status: 429, code: 'rate_limited', retryAfter: '30' });
  const banned = await knock(h.url, 'flood');
  assert.ok(!banned.open && banned.status === 403 && banned.code === 'blacklisted');
  assert.ok(Number(banned.retryAfter) >= 30, 'extended by the attempt');
  assert.equal((await knock(h.url, 'calm')).open, true, 'other uids are unaffected');
  await waitFor('registry adds', () => h.adds() === 3, 3_000, 10);
  assert.equal(h.gateway.connectionCount(), 3);
});

test('a verifier or admit hook that hangs is given up on after handshakeTimeoutMs (503)', async () => {
  const h = await start({ handshakeTimeoutMs: 200 }, { admit: () => new Promise(() => undefined) });
  const started = Date.now();
  const outcome = await knock(h.url, 'hang');
  assert.ok(!outcome.open && outcome.status === 503 && outcome.code === 'unavailable');
  assert.ok(Date.now() - started < 2_000);
  const admitHangs = await knock(h.url, 'someone');
  assert.ok(!admitHangs.open && admitHangs.status === 503);
  assert.equal(h.adds(), 0);
});

test('the client IP is the socket peer, or the right-most untrusted X-Forwarded-For hop behind a trusted proxy', async () => {
  const seen: string[] = [];
  const admit = async ({ ip }: { uid: string; ip: string }) => (seen.push(ip), { ok: true as const });
  const direct = await start({}, { admit });
  const spoof = { 'X-Forwarded-For': '198.51.100.9' };
  assert.equal((await knock(direct.url, 'd1', spoof)).open, true);
  const proxied = await start({}, { admit, clientIp: new ClientIp(['127.0.0.1', '10.0.0.0/8']) });
  assert.equal(
    (await knock(proxied.url, 'p1', { 'X-Forwarded-For': '6.6.6.6, 203.0.113.7, 10.1.2.3' })).open,
    true,
  );
  assert.equal((await knock(proxied.url, 'p2')).open, true);
  assert.deepEqual(seen, ['127.0.0.1', '203.0.113.7', '127.0.0.1']);
  await waitFor('registry entry', async () => (await proxied.registry.lookup(['p1'])).size === 1, 3_000, 10);
  const [info] = (await proxied.registry.lookup(['p1'])).get('p1')?.values() ?? [];
  assert.equal(info?.ip, '203.0.113.7', 'the registry records the client, not the proxy');
});

test('frames over the per-connection cap get `rate_limited` and close 4009; ACKs of pending pushes are free', async () => {
  const h = await start({ maxFramesPerSecond: 0.001, frameBurst: 5 });
  const c = await knock(h.url, 'chatty');
  assert.ok(c.open);
  await waitFor('welcome', () => c.frames.length === 1, 3_000, 10);
  // Twenty pushes acked one by one cost nothing, though the budget is five frames.
  const conn = [...h.gateway.entries()][0]?.connId ?? assert.fail('no connection');
  for (let i = 0; i < 20; i++) {
    const frame = JSON.stringify({ type: 'message', message: { id: `m${i}` } });
    h.gateway.deliver({ id: `m${i}`, uid: 'chatty', conns: [conn], frame, ack: true });
  }
  await waitFor('pushes', () => c.frames.length === 21, 3_000, 10);
  for (let i = 0; i < 20; i++) c.ws.send(JSON.stringify({ type: 'ack', ids: [`m${i}`] }));
  for (let i = 0; i < 5; i++) c.ws.send(JSON.stringify({ type: 'ping' }));
  await waitFor('five pongs', () => c.frames.filter((f) => f.type === 'pong').length === 5, 3_000, 10);
  c.ws.send(JSON.stringify({ type: 'ping' }));
  assert.equal(await c.closed, 4009);
  assert.deepEqual(c.frames.at(-1), {
    type: 'error',
    code: 'rate_limited',
    message: 'too many frames per second',
  });
});

test('an unknown ACK (nothing pending) is charged like any frame', async () => {
  const h = await start({ maxFramesPerSecond: 0.001, frameBurst: 3 });
  const c = await knock(h.url, 'acker');
  assert.ok(c.open);
  for (let i = 0; i < 4; i++) c.ws.send(JSON.stringify({ type: 'ack', ids: [`nope-${i}`] }));
  assert.equal(await c.closed, 4009);
  await waitFor('the connection released', () => h.gateway.connectionCount() === 0, 3_000, 10);
});
