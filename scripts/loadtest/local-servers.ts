// What `bench` starts and stops for itself, all on 127.0.0.1 and free ports: a redis-server (for the
// Socket.IO adapter), courier (the all-in-one, or a multi-process cluster with --cluster) and the Socket.IO
// reference peer. Each start returns a `stop` that ends what it started and nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file runs as dist/scripts/loadtest/local-servers.js. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Limits that protect production from abuse but would measure themselves instead of courier when thousands
 * of connections come from a handful of loopback addresses and a few sender uids (DESIGN §1 step 6).
 */
export const LOAD_ENV: Record<string, string> = {
  COURIER_BLACKLIST_MAX_CONNECTS_PER_IP: '0',
  COURIER_RATELIMIT_API_KEY_PER_SECOND: '0',
  COURIER_RATELIMIT_USER_PER_SECOND: '0',
  COURIER_WORKER_MAX_FRAMES_PER_SECOND: '0',
  COURIER_BUSINESS_OPEN_MESSAGING: 'true', // ws-mode senders are customers writing to other customers
};

export interface Started {
  pids: number[];
  stop(): Promise<void>;
}

export async function freePorts(n: number): Promise<number[]> {
  // All held open at once, so the kernel cannot hand out the same port twice.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function spawnLogged(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => out };
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  child: { child: ChildProcess; output: () => string },
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.child.exitCode !== null)
      throw new Error(`${what}: the process exited (${child.child.exitCode}):\n${child.output()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: not ready within ${timeoutMs / 1000} s:\n${child.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** PING over a bare socket: a client library would log every refused attempt while the server starts. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('error', () => resolve(false)); // not listening yet: `until` asks again
    socket.once('close', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d: Buffer) => {
      resolve(d.toString().startsWith('+PONG'));
      socket.destroy();
    });
  });
}

export async function startRedisServer(): Promise<Started & { url: string }> {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'courier-bench-redis-'));
  const proc = spawnLogged('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ]);
  proc.child.once('error', () => undefined); // ENOENT surfaces through `until` as an exit with the output
  const url = `redis://127.0.0.1:${port}`;
  await until('redis-server', () => redisPing(port as number), proc);
  return {
    url,
    pids: [proc.child.pid ?? 0],
    stop: async () => {
      await stopChild(proc.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CourierUnderTest extends Started {
  url: string; // business base URL
  jwtSecret: string;
  apiKey: string;
  redisUrl: string; // '' for the all-in-one (memory registry)
  etcd: string;
  /** Every courier process (workers, business, dispatchers; the all-in-one): CPU per message. `pids` = workers. */
  serverPids: number[];
}

/** `node dist/cmd/courier/main.js` (what `npm start` runs) on free ports with a throw-away SQLite file. */
export async function startAllInOne(): Promise<CourierUnderTest> {
  const [http, ws, dispatch, grpc] = (await freePorts(4)) as [number, number, number, number];
  const dir = mkdtempSync(join(tmpdir(), 'courier-bench-'));
  const jwtSecret = randomBytes(32).toString('base64url');
  const apiKey = `bench-${randomBytes(12).toString('hex')}`;
  const env = {
    ...process.env,
    ...LOAD_ENV,
    COURIER_LOG_LEVEL: 'warn',
    COURIER_AUTH_API_KEYS: JSON.stringify([apiKey]),
    COURIER_AUTH_JWT_SECRET: jwtSecret,
    COURIER_STORE_SQLITE_PATH: join(dir, 'courier.db'),
    // The roles of the one process call each other directly (docs/BENCHMARKS.md); `npm start` keeps the hops.
    COURIER_NODE_IN_PROCESS_HOPS: 'true',
    COURIER_BUSINESS_HTTP_HOST: '127.0.0.1',
    COURIER_BUSINESS_HTTP_PORT: String(http),
    COURIER_DISPATCHER_HTTP_PORT: String(dispatch),
    COURIER_WORKER_WS_HOST: '127.0.0.1',
    COURIER_WORKER_WS_PORT: String(ws),
    COURIER_WORKER_GRPC_PORT: String(grpc),
  };
  const proc = spawnLogged(
    process.execPath,
    ['dist/cmd/courier/main.js', '--config', 'configs/courier.yaml'],
    env,
  );
  const url = `http://127.0.0.1:${http}`;
  await until(
    'courier all-in-one',
    async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200,
    proc,
  );
  return {
    url,
    jwtSecret,
    apiKey,
    redisUrl: '',
    etcd: '',
    pids: [proc.child.pid ?? 0],
    serverPids: [proc.child.pid ?? 0],
    stop: async () => {
      await stopChild(proc.child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster (Redis registry, etcd, MariaDB) from the launcher `npm run cluster` and the cluster tests use. */
export async function startCluster(
  workers: number,
  options: {
    dispatchers?: number; // dispatcher processes; 0 = the business process runs its own (default 1)
    host?: string; // listen address of business and workers: 0.0.0.0 for conns --spread
  } = {},
): Promise<CourierUnderTest> {
  // Imported only here: the test support pulls in the server launchers that the plain tools never need.
  const { LOAD_CLUSTER, LocalCluster } = await import('../../test/support/cluster.js');
  const dispatchers = options.dispatchers ?? 1;
  const cluster = await LocalCluster.start({
    ...LOAD_CLUSTER,
    business: 1,
    dispatchers,
    embedDispatchers: dispatchers === 0,
    workers,
    host: options.host,
    env: LOAD_ENV,
    startTimeoutMs: 60_000,
  });
  const business = cluster.nodesOf('business')[0];
  return {
    url: business?.url ?? '',
    jwtSecret: cluster.secrets.jwtSecret,
    apiKey: cluster.secrets.apiKey,
    redisUrl: cluster.redis.url,
    etcd: cluster.etcd.endpoint,
    pids: cluster.nodesOf('worker').map((n) => n.proc.child.pid ?? 0),
    serverPids: (['business', 'dispatcher', 'worker'] as const).flatMap((role) =>
      cluster.nodesOf(role).map((n) => n.proc.child.pid ?? 0),
    ),
    stop: () => cluster.stop(),
  };
}

/** The Socket.IO reference peer with `procs` processes; resolves when it printed READY. */
export async function startSocketIoPeer(redisUrl: string, procs: number): Promise<Started & { url: string }> {
  const args = ['--redis-url', redisUrl, '--procs', String(procs), '--lifetime', '900'];
  const { ready, stop } = await startReporting<{ urls: string[]; pids: number[] }>(
    'socket.io peer',
    'socketio-server',
    args,
  );
  return { url: ready.urls[0] as string, pids: ready.pids, stop };
}

/** The relay of peers/relay-server.ts (the floor: a server that only relays), one process on a free port. */
export async function startRelayPeer(): Promise<Started & { url: string }> {
  const args = ['--lifetime', '900'];
  const { ready, stop } = await startReporting<{ url: string; pid: number }>(
    'relay peer',
    'relay-server',
    args,
  );
  return { url: ready.url, pids: [ready.pid], stop };
}

/** Starts a peer of scripts/loadtest/peers/ and waits for the `READY {json}` line it prints once it listens. */
async function startReporting<T>(
  what: string,
  peer: string,
  args: string[],
): Promise<{ ready: T; stop: () => Promise<void> }> {
  const proc = spawnLogged(process.execPath, [join(ROOT, `dist/scripts/loadtest/peers/${peer}.js`), ...args]);
  let ready: T | undefined;
  proc.child.stdout?.on('data', (c: Buffer) => {
    const line = /READY (\{.*\})/.exec(c.toString());
    if (line) ready = JSON.parse(line[1] as string) as T;
  });
  await until(what, async () => ready !== undefined, proc);
  return { ready: ready as T, stop: () => stopChild(proc.child) };
}
