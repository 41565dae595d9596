// The pieces graceful drain and fault recovery rest on, one at a time in one process: the shutdown deadline,
// an HTTP server that closes while keep-alive clients talk to it, a pool of nodes while discovery shows
// none, and a dispatcher pushing to a worker that just left discovery.
import assert from 'node:assert/strict';
import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { WorkerNode } from '../../internal/discovery/discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';
import { DispatchService } from '../../internal/dispatcher/service.js';
import { listen } from '../../internal/http/app.js';
import { NodePool } from '../../internal/http/node-pool.js';
import { silentLogger } from '../../internal/log/logger.js';
import { Lifecycle, type RoleNode } from '../../internal/node/lifecycle.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import { PushServer } from '../../internal/worker/push-server.js';

const never = () => new Promise<void>(() => undefined);

describe('drain plumbing', () => {
  it('Lifecycle: shuts down within its grace period even when drains and closes hang', async () => {
    const given: number[] = [];
    const node = (role: RoleNode['role']): RoleNode => ({
      role,
      id: role,
      drain: (graceMs) => (given.push(graceMs), never()),
      close: never,
    });
    const lifecycle = new Lifecycle(
      [node('worker'), node('business')],
      { close: never },
      silentLogger(),
      500,
    );
    const started = Date.now();
    await lifecycle.shutdown('test');
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 2_000, `took ${took} ms`);
    assert.equal(given.length, 2);
    assert.ok(
      given.every((ms) => ms <= 400),
      `drains leave time to close: ${given.join()}`,
    );
  });

  it('listen().close: answers in flight close their socket, idle ones close, stuck ones are cut at the deadline', async () => {
    const server = await listen(
      ((req: IncomingMessage, res: ServerResponse) => {
        if (req.url === '/stuck') return; // never answered
        setTimeout(() => res.end('ok'), 100);
      }) as never,
      '127.0.0.1',
      0,
    );
    const agent = new Agent({ keepAlive: true });
    const get = (path: string) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal((await get('/ok')).connection, 'keep-alive'); // leaves an idle keep-alive socket
    const inFlight = get('/ok');
    const stuck = get('/stuck').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await new Promise((r) => setTimeout(r, 20)); // both requests read by the server
    const started = Date.now();
    await server.close(400);
    const took = Date.now() - started;
    assert.deepEqual(await inFlight, { status: 200, connection: 'close' });
    assert.equal(await stuck, 'ECONNRESET');
    assert.ok(took >= 350 && took < 2_000, `closed after ${took} ms`);
    agent.destroy();
  });

  it('NodePool: keeps calling the last known nodes while discovery lists none', async () => {
    const peer = createServer((_req, res) => res.end('{"ok":true}'));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', r));
    const http = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
    const discovery = new StaticDiscovery();
    const fresh = new NodePool('dispatcher', { key: 'k', timeoutMs: 1_000 }, discovery, silentLogger());
    await fresh.start();
    await assert.rejects(fresh.post('/x', {}), /no dispatcher node is available/);
    const registration = await discovery.register({ role: 'dispatcher', id: 'd1', http });
    const pool = new NodePool('dispatcher', { key: 'k', timeoutMs: 1_000 }, discovery, silentLogger());
    await pool.start();
    await registration.revoke(); // etcd restarted empty: d1 still runs but is listed nowhere
    assert.equal(pool.size, 0);
    assert.deepEqual(await pool.post('/x', {}), { ok: true });
    pool.close();
    fresh.close();
    peer.close();
  });

  it('NodePool: a retry goes to another node even while other calls run at the same time', async () => {
    // One node refuses (a draining dispatcher) a little later than it is asked; the other answers.
    const refusing = createServer((_req, res) =>
      setTimeout(() => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"unavailable","message":"dispatcher is draining"}}');
      }, 30),
    );
    const answering = createServer((_req, res) => res.end('{"ok":true}'));
    const urlOf = async (server: typeof refusing) => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const discovery = new StaticDiscovery();
    await discovery.register({ role: 'dispatcher', id: 'd1', http: await urlOf(refusing) });
    await discovery.register({ role: 'dispatcher', id: 'd2', http: await urlOf(answering) });
    const pool = new NodePool('dispatcher', { key: 'k', timeoutMs: 2_000 }, discovery, silentLogger());
    await pool.start();
    try {
      const answers = await Promise.allSettled(Array.from({ length: 20 }, () => pool.post('/x', {})));
      const failed = answers.filter((a) => a.status === 'rejected');
      assert.equal(failed.length, 0, `${failed.length} of 20 calls failed although d2 answers every call`);
    } finally {
      pool.close();
      refusing.close();
      answering.close();
    }
  });

  it('DispatchService: still pushes to a worker that left discovery until it is swept', async () => {
    const push = new PushServer(
      (items) => items.map((i) => ({ delivered: i.conns.length, missing: [] })),
      silentLogger(),
    );
    const port = await push.listen('127.0.0.1', 0);
    const worker: WorkerNode = {
      role: 'worker',
      id: 'w1',
      grpc: `127.0.0.1:${port}`,
      ws: 'ws://127.0.0.1:9/ws',
      conns: 1,
      startedAt: 0,
    };
    const discovery = new StaticDiscovery();
    const registration = await discovery.register(worker);
    const registry = new MemoryRegistry();
    const info = {
      worker: 'w1',
      ip: '127.0.0.1',
      role: 'customer' as const,
      platform: 'web',
      channel: '',
      since: 0,
    };
    await registry.add([{ uid: 'u1', connId: 'customer:web:c1', info }]);
    const service = new DispatchService(
      { pushTimeoutMs: 1_000, sweepDelayMs: 60_000 },
      registry,
      discovery,
      silentLogger(),
    );
    await service.start();
    await registration.revoke(); // frozen past its lease, or etcd lost its key: it may well be alive
    const message = {
      id: 'm1',
      conversation: 'c',
      seq: 1,
      from: 'shop',
      to: ['u1'],
      type: 'text' as const,
      content: 'hi',
      ts: 0,
    };
    const [result] = await service.dispatch([{ kind: 'message', message, uids: ['u1'] }]);
    assert.equal(result?.delivered, 1);
    await service.close();
    await push.close();
  });
});
