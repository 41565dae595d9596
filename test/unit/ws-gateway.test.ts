import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import type { Claims, TokenVerifier } from '../../internal/auth/claims.js';
import { CourierError } from '../../internal/errors.js';
import { silentLogger } from '../../internal/log/logger.js';
import type { ServerFrame } from '../../internal/protocol/frames.js';
import type { Message, Role } from '../../internal/protocol/message.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import type { Uplink, UplinkSend, UplinkSendResult } from '../../internal/worker/uplink.js';
import { WsGateway, type AdmitResult, type WsGatewayOptions } from '../../internal/worker/ws-gateway.js';
import { waitFor } from '../support/servers.js';

// ---- fakes ----

/** Tokens are opaque keys into a map of claims; the lead's JWT verifier plugs in behind the same interface. */
class FakeVerifier implements TokenVerifier {
  private readonly tokens = new Map<string, Claims>();
  private n = 0;
  issue(uid: string, opts: { role?: Role; platform?: string; ttlMs?: number } = {}): string {
    const token = `tok-${++this.n}`;
    const expiresAt = Date.now() + (opts.ttlMs ?? 3_600_000);
    this.tokens.set(token, {
      uid,
      role: opts.role ?? 'customer',
      platform: opts.platform ?? 'web',
      expiresAt,
    });
    return token;
  }
  /** While set, verifications wait for it: lets a test release many handshakes in the same tick. */
  gate: Promise<void> | null = null;
  waiting = 0;
  async verify(token: string): Promise<Claims> {
    if (this.gate) {
      this.waiting++;
      await this.gate;
    }
    const claims = this.tokens.get(token);
    if (!claims) throw new CourierError('unauthorized', 'invalid token');
    if (claims.expiresAt <= Date.now()) throw new CourierError('token_expired', 'token expired');
    return claims;
  }
}

function message(id: string, from = 'u1'): Message {
  return { id, conversation: 'd:u1:u2', seq: 1, from, to: ['u2'], type: 'text', content: 'hi', ts: 1 };
}

class FakeUplink implements Uplink {
  readonly sends: UplinkSend[] = [];
  readonly reads: { uid: string; conversation: string; seq: number }[] = [];
  async send(req: UplinkSend): Promise<UplinkSendResult> {
    this.sends.push(req);
    if (req.clientMsgId === 'down') throw new Error('connect ECONNREFUSED');
    if (req.clientMsgId === 'deny')
      return { ok: false, error: { code: 'forbidden', message: 'not allowed' } };
    return { ok: true, message: message(`m-${req.clientMsgId}`, req.from) };
  }
  async sync(req: { uid: string; conversation: string; after: number; limit: number }) {
    if (req.conversation === 'secret') throw new CourierError('forbidden', 'not a member');
    return { messages: [message('m1')], hasMore: req.limit < 2 };
  }
  async read(req: { uid: string; conversation: string; seq: number }) {
    this.reads.push(req);
    if (req.conversation === 'gone') throw new CourierError('not_found', 'no such conversation');
    return { seq: req.seq };
  }
}

// ---- harness ----

interface Harness {
  gateway: WsGateway;
  registry: MemoryRegistry;
  uplink: FakeUplink;
  verifier: FakeVerifier;
  url: string;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function start(
  options: Partial<WsGatewayOptions> = {},
  admit?: (ctx: { uid: string; ip: string }) => Promise<AdmitResult>,
): Promise<Harness> {
  const registry = new MemoryRegistry();
  const uplink = new FakeUplink();
  const verifier = new FakeVerifier();
  const gateway = new WsGateway(
    { workerId: 'w1', tickMs: 10, ...options },
    { verifier, registry, uplink, logger: silentLogger(), ...(admit ? { admit } : {}) },
  );
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(async () => {
    await gateway.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { gateway, registry, uplink, verifier, url: `ws://127.0.0.1:${port}/ws` };
}

const WAIT_MS = 3000; // bound on every wait for an event that should come quickly

/** A test client that buffers frames and lets the test wait for the next matching one. */
class Client {
  readonly frames: ServerFrame[] = [];
  readonly pings: number[] = [];
  private wake: () => void = () => undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)) as ServerFrame);
      this.wake();
    });
    ws.on('ping', () => {
      this.pings.push(Date.now());
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Removes and returns the first buffered frame of this type, waiting for one if needed. */
  async next<T extends ServerFrame['type']>(
    type: T,
    timeoutMs = WAIT_MS,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Extract<ServerFrame, { type: T }>;
      if (Date.now() >= deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await this.until(deadline);
    }
  }

  /** Waits for a frame, ping or close, or the deadline. */
  private until(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async closeCode(timeoutMs = WAIT_MS): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return (await Promise.race([this.closed, timeout])).code;
    } finally {
      clearTimeout(timer);
    }
  }

  json(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }
}

async function connect(url: string, token: string, options: ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, options);
  const client = new Client(ws);
  cleanups.push(async () => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return client;
}

/** Connects and expects the upgrade to be refused; returns the HTTP status and error code. */
async function refused(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; code: string }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.on('open', () => reject(new Error('upgrade was accepted')));
    ws.on('error', () => undefined); // the aborted request after 'unexpected-response'
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        const parsed = JSON.parse(body) as { error: { code: string } };
        resolve({ status: res.statusCode ?? 0, code: parsed.error.code });
      });
    });
  });
}

// ---- connect ----

test('refuses bad, missing and expired tokens with HTTP 401 before the upgrade', async () => {
  const h = await start();
  assert.deepEqual(await refused(h.url), { status: 401, code: 'unauthorized' });
  assert.deepEqual(await refused(`${h.url}?token=forged`), { status: 401, code: 'unauthorized' });
  const expired = h.verifier.issue('u1', { ttlMs: -1000 });
  assert.deepEqual(await refused(`${h.url}?token=${expired}`), { status: 401, code: 'token_expired' });
  assert.deepEqual(await refused(h.url.replace('/ws', '/other')), { status: 404, code: 'not_found' });
  assert.equal(h.gateway.connectionCount(), 0);
});

test('the admit hook refuses before the upgrade (blacklist)', async () => {
  const h = await start({}, async ({ uid }) =>
    uid === 'banned' ? { ok: false, status: 403, code: 'blacklisted', message: 'banned' } : { ok: true },
  );
  const token = h.verifier.issue('banned');
  assert.deepEqual(await refused(`${h.url}?token=${token}`), { status: 403, code: 'blacklisted' });
  const ok = await connect(h.url, h.verifier.issue('fine'));
  await ok.next('welcome');
});

test('welcome, registry entry, Authorization header and removal on close', async () => {
  const h = await start({ heartbeatSeconds: 30 });
  const token = h.verifier.issue('alice', { role: 'agent', platform: 'ios' });
  const ws = new WebSocket(`${h.url}?channel=store-7`, { headers: { Authorization: `Bearer ${token}` } });
  const client = new Client(ws);
  const welcome = await client.next('welcome');
  assert.equal(welcome.uid, 'alice');
  assert.equal(welcome.worker, 'w1');
  assert.equal(welcome.heartbeat, 30);
  assert.match(welcome.connId, /^agent:ios:[A-Za-z0-9_-]+$/);

  await waitFor('registry entry', async () => (await h.registry.lookup(['alice'])).size === 1, WAIT_MS, 10);
  const info = (await h.registry.lookup(['alice'])).get('alice')?.get(welcome.connId);
  assert.ok(info);
  assert.deepEqual(
    { ...info, since: 0 },
    {
      worker: 'w1',
      ip: '127.0.0.1',
      role: 'agent',
      platform: 'ios',
      channel: 'store-7',
      since: 0,
    },
  );
  assert.ok(Math.abs(info.since - Date.now()) < 5000);
  assert.deepEqual(h.gateway.uids(), ['alice']);
  assert.equal(h.gateway.entries()[0]?.connId, welcome.connId);

  ws.close();
  await waitFor('registry removal', async () => (await h.registry.lookup(['alice'])).size === 0, WAIT_MS, 10);
  assert.equal(h.gateway.connectionCount(), 0);
});

test('registry adds of one tick are batched into one call', async () => {
  const h = await start();
  const calls: number[] = [];
  const add = h.registry.add.bind(h.registry);
  h.registry.add = async (entries) => {
    calls.push(entries.length);
    return add(entries);
  };
  let release: () => void = () => undefined;
  h.verifier.gate = new Promise((resolve) => (release = resolve));
  const tokens = Array.from({ length: 20 }, () => h.verifier.issue('bob'));
  const connecting = Promise.all(tokens.map((token) => connect(h.url, token)));
  await waitFor('20 handshakes in verification', () => h.verifier.waiting === 20, WAIT_MS, 10);
  release(); // all 20 upgrades now complete in the same event-loop turn
  const clients = await connecting;
  await Promise.all(clients.map((c) => c.next('welcome')));
  await waitFor('all added', () => calls.reduce((a, b) => a + b, 0) === 20, WAIT_MS, 10);
  assert.deepEqual(calls, [20]);
});

test('maxConnections counts handshakes in progress: a burst gets 503 past the cap, a freed place is reused', async () => {
  const h = await start({ maxConnections: 3 });
  let release: () => void = () => undefined;
  h.verifier.gate = new Promise((resolve) => (release = resolve));
  const connecting = Promise.all(Array.from({ length: 3 }, () => connect(h.url, h.verifier.issue('eve'))));
  await waitFor('3 handshakes in verification', () => h.verifier.waiting === 3, WAIT_MS, 10);
  // Refused before the token is even read: a forged one gets 503, not 401.
  assert.deepEqual(await refused(`${h.url}?token=forged`), { status: 503, code: 'unavailable' });
  assert.equal(h.verifier.waiting, 3);
  h.verifier.gate = null;
  release();
  const clients = await connecting;
  await Promise.all(clients.map((c) => c.next('welcome')));
  assert.deepEqual(await refused(`${h.url}?token=${h.verifier.issue('eve')}`), {
    status: 503,
    code: 'unavailable',
  });
  assert.equal(h.gateway.connectionCount(), 3);
  clients[0]?.ws.close();
  await waitFor('a place freed', () => h.gateway.connectionCount() === 2, WAIT_MS, 10);
  await (await connect(h.url, h.verifier.issue('eve'))).next('welcome');
  assert.equal(h.gateway.connectionCount(), 3);
});

test('a refresh pass re-puts every held connection, so a registry that lost its data heals', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('rita'));
  const connId = (await c.next('welcome')).connId;
  await waitFor('registry entry', async () => (await h.registry.lookup(['rita'])).size === 1, WAIT_MS, 10);
  await h.registry.close(); // the memory registry forgets everything, like a Redis restarted empty
  assert.equal((await h.registry.lookup(['rita'])).size, 0);
  await h.gateway.refreshRegistry();
  assert.equal((await h.registry.lookup(['rita'])).get('rita')?.get(connId)?.worker, 'w1');
});

// ---- push and ACK ----

test('deliver to three connections of one uid; stale and foreign conns are missing', async () => {
  const h = await start();
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await connect(h.url, h.verifier.issue('carol')));
  const other = await connect(h.url, h.verifier.issue('dave'));
  const ids = await Promise.all(clients.map(async (c) => (await c.next('welcome')).connId));
  const daveConn = (await other.next('welcome')).connId;
  const frame = JSON.stringify({ type: 'message', message: message('m1') });
  const result = h.gateway.deliver({
    id: 'm1',
    uid: 'carol',
    conns: [...ids, 'customer:web:gone', daveConn],
    frame,
    ack: false,
  });
  assert.deepEqual(result, { delivered: 3, missing: ['customer:web:gone', daveConn] });
  for (const c of clients) assert.deepEqual((await c.next('message')).message, message('m1'));
  assert.deepEqual(h.gateway.deliverBatch([{ id: 'e', uid: 'x', conns: ['nope'], frame, ack: false }]), [
    { delivered: 0, missing: ['nope'] },
  ]);
});

test('an ACK stops the resends; a withheld ACK is resent exactly ackRetries times, then 4008', async () => {
  const h = await start({ ackTimeoutMs: 150, ackRetries: 2 });
  const c = await connect(h.url, h.verifier.issue('erin'));
  const connId = (await c.next('welcome')).connId;
  const push = (id: string) =>
    h.gateway.deliver({
      id,
      uid: 'erin',
      conns: [connId],
      frame: JSON.stringify({ type: 'message', message: message(id) }),
      ack: true,
    });

  assert.equal(push('acked').delivered, 1);
  assert.equal((await c.next('message')).message.id, 'acked');
  c.json({ type: 'ack', ids: ['acked'] });

  push('withheld');
  push('withheld'); // the same id again: written, but tracked once
  const started = Date.now();
  const copies: number[] = [];
  for (let i = 0; i < 4; i++) {
    assert.equal((await c.next('message')).message.id, 'withheld');
    copies.push(Date.now() - started);
  }
  assert.equal(await c.closeCode(), 4008);
  // Two initial writes plus exactly two resends, each after the ACK timeout; no copy of the acked one.
  assert.ok(copies[2]! >= 140 && copies[3]! >= 290, `resend times ${copies.join(', ')}`);
  assert.equal(c.frames.filter((f) => f.type === 'message').length, 0);
});

test('a client with too many pending ACKs is closed with 4008', async () => {
  const h = await start({ maxPendingAcks: 2 });
  const c = await connect(h.url, h.verifier.issue('frank'));
  const connId = (await c.next('welcome')).connId;
  const results = ['a', 'b', 'c'].map((id) =>
    h.gateway.deliver({ id, uid: 'frank', conns: [connId], frame: '{"type":"pong"}', ack: true }),
  );
  assert.deepEqual(
    results.map((r) => r.delivered),
    [1, 1, 0],
  );
  assert.equal(await c.closeCode(), 4008);
});

test('close items kick the connection with their code', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('gina'));
  const connId = (await c.next('welcome')).connId;
  const r = h.gateway.deliver({
    id: 'k',
    uid: 'gina',
    conns: [connId],
    frame: '',
    ack: false,
    close: { code: 4003, reason: 'banned' },
  });
  assert.equal(r.delivered, 1);
  assert.equal(await c.closeCode(), 4003);
});

// ---- client frames ----

test('send → sent, business refusal and business down → error frames with the clientMsgId', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('hank'));
  const connId = (await c.next('welcome')).connId;
  const body = { to: 'u2', type: 'text', content: 'hello' };

  c.json({ type: 'send', clientMsgId: 'c1', message: body });
  const sent = await c.next('sent');
  assert.equal(sent.clientMsgId, 'c1');
  assert.equal(sent.message.id, 'm-c1');
  assert.deepEqual(h.uplink.sends[0], { from: 'hank', conn: connId, clientMsgId: 'c1', message: body });

  c.json({ type: 'send', clientMsgId: 'deny', message: body });
  assert.deepEqual(await c.next('error'), {
    type: 'error',
    code: 'forbidden',
    message: 'not allowed',
    ref: 'deny',
  });

  c.json({ type: 'send', clientMsgId: 'down', message: body });
  const down = await c.next('error');
  assert.equal(down.code, 'unavailable');
  assert.equal(down.ref, 'down');
});

test('sync and read go through the uplink', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('ivy'));
  await c.next('welcome');
  c.json({ type: 'sync', conversation: 'd:u1:u2', after: 0, limit: 1 });
  assert.deepEqual(await c.next('sync'), {
    type: 'sync',
    conversation: 'd:u1:u2',
    messages: [message('m1')],
    hasMore: true,
  });
  c.json({ type: 'sync', conversation: 'secret' });
  assert.deepEqual(await c.next('error'), {
    type: 'error',
    code: 'forbidden',
    message: 'not a member',
    ref: 'secret',
  });

  c.json({ type: 'read', conversation: 'd:u1:u2', seq: 4 });
  await waitFor('read call', () => h.uplink.reads.length === 1, WAIT_MS, 10);
  assert.deepEqual(h.uplink.reads[0], { uid: 'ivy', conversation: 'd:u1:u2', seq: 4 });
  c.json({ type: 'read', conversation: 'gone', seq: 1 });
  const err = await c.next('error');
  assert.equal(err.code, 'not_found');
  assert.equal(err.ref, 'gone');
  assert.equal(c.frames.length, 0); // a successful read has no reply
});

test('ping → pong; invalid frames get an error and keep the connection, 20 of them close it', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('jack'));
  await c.next('welcome');
  c.json({ type: 'ping' });
  assert.deepEqual(await c.next('pong'), { type: 'pong' });

  c.ws.send('{not json');
  const err = await c.next('error');
  assert.equal(err.code, 'bad_frame');
  c.json({ type: 'send', clientMsgId: 'c7', message: { type: 'video', content: 'x' } });
  assert.equal((await c.next('error')).ref, 'c7');
  c.json({ type: 'ping' });
  await c.next('pong');

  for (let i = 2; i < 20; i++) c.json({ type: 'nope' });
  assert.equal(await c.closeCode(), 4009);
});

test('binary frames close with 4009, oversized frames with 1009', async () => {
  const h = await start({ maxFrameBytes: 1024 });
  const a = await connect(h.url, h.verifier.issue('kim'));
  await a.next('welcome');
  a.ws.send(Buffer.from([1, 2, 3]));
  assert.equal(await a.closeCode(), 4009);

  const b = await connect(h.url, h.verifier.issue('kim'));
  await b.next('welcome');
  b.json({ type: 'sync', conversation: 'x'.repeat(2000) });
  assert.equal(await b.closeCode(), 1009);
  await waitFor('both released', () => h.gateway.connectionCount() === 0, WAIT_MS, 10);
});

// ---- heartbeat and expiry ----

test('heartbeat: no ping while talking; ping after silence; terminate after further silence', async () => {
  const h = await start({ heartbeatSeconds: 0.2 });
  const talker = await connect(h.url, h.verifier.issue('lee'));
  const mute = await connect(h.url, h.verifier.issue('lee'), { autoPong: false });
  const polite = await connect(h.url, h.verifier.issue('lee'));
  await Promise.all([talker.next('welcome'), mute.next('welcome'), polite.next('welcome')]);

  // The talker sends a frame every 50 ms while the mute client gets pinged and then cut off.
  const chatter = setInterval(() => talker.json({ type: 'ping' }), 50);
  try {
    await waitFor('ping to the silent client', () => mute.pings.length > 0, WAIT_MS, 10);
    assert.equal(await mute.closeCode(), 1006); // terminated, no close frame
    // The polite client answered its ping with a pong (ws does that by itself) and is still connected.
    await waitFor('ping to the polite client', () => polite.pings.length > 0, WAIT_MS, 10);
  } finally {
    clearInterval(chatter);
  }
  assert.equal(talker.pings.length, 0);
  assert.equal(polite.ws.readyState, WebSocket.OPEN);
  assert.equal(talker.ws.readyState, WebSocket.OPEN);
});

test('the connection closes with 4001 when its token expires', async () => {
  const h = await start();
  const c = await connect(h.url, h.verifier.issue('mia', { ttlMs: 300 }));
  await c.next('welcome');
  assert.equal(await c.closeCode(), 4001);
});

// ---- draining ----

test('closeAll drains with 1012; later upgrades get 503 after stop', async () => {
  const h = await start();
  const clients = [
    await connect(h.url, h.verifier.issue('ned')),
    await connect(h.url, h.verifier.issue('ola')),
  ];
  await Promise.all(clients.map((c) => c.next('welcome')));
  assert.equal(h.gateway.closeAll(1012, 'draining'), 2);
  for (const c of clients) assert.equal(await c.closeCode(), 1012);
  await waitFor('close handshakes done', () => h.gateway.connectionCount() === 0, WAIT_MS, 10);
  await h.gateway.stop();
  assert.equal((await h.registry.lookup(['ned', 'ola'])).size, 0);
  const token = h.verifier.issue('pat');
  assert.deepEqual(await refused(`${h.url}?token=${token}`), { status: 503, code: 'unavailable' });
});

test('options are checked at construction, naming the key', () => {
  const deps = {
    verifier: new FakeVerifier(),
    registry: new MemoryRegistry(),
    uplink: new FakeUplink(),
    logger: silentLogger(),
  };
  assert.throws(() => new WsGateway({ workerId: 'w', ackTimeoutMs: 0 }, deps), /ackTimeoutMs/);
  assert.throws(() => new WsGateway({ workerId: 'w', path: 'ws' }, deps), /path/);
  assert.throws(() => new WsGateway({ workerId: 'w', ackRetries: -1 }, deps), /ackRetries/);
  assert.throws(() => new WsGateway({ workerId: 'w', maxConnections: 0 }, deps), /maxConnections/);
});
