// A real multi-process courier cluster on one machine: redis-server, etcd and mariadbd on free ports (the test
// servers of this folder), the database created and migrated with `cmd/migrate`, then business, dispatcher and
// worker processes run from dist exactly as in production (`node dist/cmd/<role>/main.js --config
// configs/<role>.yaml`), configured through COURIER_* variables. The cluster tests start one per file with short
// timeouts; `npm run cluster` starts one with the production defaults and keeps it running.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdServer } from './etcd.js';
import { startMariaDb, type MariaDb } from './mariadb.js';
import { startRedis, type StandaloneRedis } from './redis.js';
import { spawnServer, waitFor, type Spawned } from './servers.js';

export type ClusterRole = 'business' | 'dispatcher' | 'worker';

/** etcd folders of DESIGN §5 under the default prefix `/courier/`. */
export const ETCD_DIRS: Record<ClusterRole, string> = {
  business: '/courier/business/',
  dispatcher: '/courier/dispatchers/',
  worker: '/courier/workers/',
};

/** The repository root: this file runs as dist/test/support/cluster.js. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ClusterOptions {
  business?: number; // business processes (default 2)
  dispatchers?: number; // dispatcher processes (default 2)
  embedDispatchers?: boolean; // each business process runs its own dispatcher (business.embedDispatcher)
  workers?: number; // worker processes (default 3)
  leaseTtlSeconds?: number; // etcd lease TTL of every node (default 10, as in production)
  host?: string; // listen address of the business APIs and the workers' WebSockets (default 127.0.0.1)
  ports?: Partial<Record<ClusterRole, number[]>>; // port of the n-th node of a role; absent or 0 = any free port
  env?: Record<string, string>; // more COURIER_* variables for every node
  logLevel?: string; // COURIER_LOG_LEVEL of every node (default warn)
  mariadbBufferPoolMb?: number; // InnoDB buffer pool of the cluster's mariadbd (default: startMariaDb's)
  nodeFlags?: Partial<Record<ClusterRole, string[]>>; // node's own flags for every process of a role
  startTimeoutMs?: number; // per node: registered in etcd and /readyz answering 200 (default 30_000)
  onOutput?: (node: ClusterNode, chunk: string) => void; // everything a node prints, as it prints it
  onExit?: (node: ClusterNode, code: number | null) => void; // a node ended without kill()/stop()
}

/**
 * What a cluster that carries load gets beyond the tests' small defaults, so that `npm run cluster` and
 * `npm run bench -- --cluster` measure the same thing.
 */
export const LOAD_CLUSTER: Pick<ClusterOptions, 'mariadbBufferPoolMb' | 'nodeFlags'> = {
  // Load runs write millions of rows: with the tests' 32 MB pool, inserts waited on reads from disk.
  mariadbBufferPoolMb: 512,
  // As DEPLOY.md advises for nodes that hold no connections: a young generation large enough for the
  // objects of the messages in flight (with V8's default, business spent 9 ms per scavenge, 6 a second).
  nodeFlags: { business: ['--max-semi-space-size=64'], dispatcher: ['--max-semi-space-size=64'] },
};

export interface Secrets {
  apiKey: string; // acts for any uid on the business API
  internalKey: string; // shared by every node for internal calls
  jwtSecret: string; // HS256 secret: business signs user tokens, workers verify them
}

export interface ClusterNode {
  role: ClusterRole;
  id: string;
  proc: Spawned;
  /** As published in etcd: the HTTP base URL of business and dispatcher nodes, the WebSocket URL of a worker. */
  url: string;
}

export interface EtcdEntry {
  value: Record<string, unknown>;
  lease: string; // lease id, '0' for none
}

const exitedOf = (proc: Spawned) => proc.child.exitCode !== null || proc.child.signalCode !== null;
const tail = (text: string) => text.slice(-4_000);

export class LocalCluster {
  readonly nodes = new Map<string, ClusterNode>();
  private readonly started: Record<ClusterRole, number> = { business: 0, dispatcher: 0, worker: 0 };
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly redis: StandaloneRedis,
    readonly etcd: EtcdServer,
    readonly mariadb: MariaDb,
    readonly mysqlUrl: string,
    readonly secrets: Secrets,
    private readonly options: ClusterOptions,
  ) {}

  /** Starts the servers, creates and migrates the database, then every role process at once. */
  static async start(options: ClusterOptions = {}): Promise<LocalCluster> {
    const servers = await Promise.allSettled([
      startRedis(),
      startEtcd(),
      startMariaDb({ bufferPoolMb: options.mariadbBufferPoolMb }),
    ] as const);
    const [redis, etcd, mariadb] = servers;
    if (redis.status !== 'fulfilled' || etcd.status !== 'fulfilled' || mariadb.status !== 'fulfilled') {
      await Promise.allSettled(servers.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
      throw servers.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    }
    const secrets: Secrets = {
      apiKey: `ck-${randomBytes(12).toString('hex')}`,
      internalKey: randomBytes(24).toString('base64url'),
      jwtSecret: randomBytes(36).toString('base64url'),
    };
    let cluster: LocalCluster | undefined;
    try {
      const mysqlUrl = await mariadb.value.createDatabase('courier');
      const started = new LocalCluster(redis.value, etcd.value, mariadb.value, mysqlUrl, secrets, options);
      cluster = started;
      await started.migrate();
      const { business = 2, dispatchers = 2, workers = 3 } = options;
      const roles: ClusterRole[] = [
        ...Array<ClusterRole>(business).fill('business'),
        ...Array<ClusterRole>(dispatchers).fill('dispatcher'),
        ...Array<ClusterRole>(workers).fill('worker'),
      ];
      const results = await Promise.allSettled(roles.map((role) => started.startNode(role)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return started;
    } catch (err) {
      if (cluster) await cluster.stop();
      else await Promise.allSettled([redis.value.stop(), etcd.value.stop(), mariadb.value.stop()]);
      throw err;
    }
  }

  /** Starts one more node (ids count up per role: worker-1, worker-2, …) and waits until it is ready. */
  async startNode(
    role: ClusterRole,
    more: { id?: string; env?: Record<string, string> } = {},
  ): Promise<ClusterNode> {
    const index = this.started[role]++;
    const id = more.id ?? `${role}-${index + 1}`;
    const port = this.options.ports?.[role]?.[index] ?? 0;
    const args = [
      '--enable-source-maps',
      ...(this.options.nodeFlags?.[role] ?? []),
      `dist/cmd/${role}/main.js`,
      '--config',
      `configs/${role}.yaml`,
    ];
    const env = { ...this.env(id), ...this.listenEnv(role, port), ...more.env };
    const node: ClusterNode = {
      role,
      id,
      proc: spawnServer(process.execPath, args, { env, cwd: ROOT }),
      url: '',
    };
    this.nodes.set(id, node);
    const { onOutput, onExit } = this.options;
    if (onOutput) {
      node.proc.child.stdout?.on('data', (chunk: Buffer) => onOutput(node, chunk.toString()));
      node.proc.child.stderr?.on('data', (chunk: Buffer) => onOutput(node, chunk.toString()));
    }
    void node.proc.exited.then((code) => {
      if (!this.stopping && this.nodes.get(id) === node) onExit?.(node, code);
    });
    await this.untilReady(node);
    return node;
  }

  nodesOf(role: ClusterRole): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.role === role);
  }

  node(id: string): ClusterNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id} in this cluster`);
    return node;
  }

  /** Ends a node: SIGKILL is a crash (its lease runs out), SIGTERM a clean stop (it deregisters first). */
  async kill(id: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const node = this.node(id);
    this.nodes.delete(id);
    if (signal === 'SIGTERM') await node.proc.stop(10_000);
    else node.proc.kill('SIGKILL');
    await node.proc.exited;
  }

  /** Every key under `/courier/` in etcd with its parsed value and lease (over etcd's JSON gateway). */
  async etcdEntries(): Promise<Map<string, EtcdEntry>> {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const res = await fetch(`${this.etcd.endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('/courier/'), range_end: b64('/courier0') }), // '0' follows '/'
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) throw new Error(`etcd range: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { kvs?: { key: string; value: string; lease?: string }[] };
    const out = new Map<string, EtcdEntry>();
    for (const kv of body.kvs ?? []) {
      const text = (s: string) => Buffer.from(s, 'base64').toString();
      out.set(text(kv.key), {
        value: JSON.parse(text(kv.value)) as Record<string, unknown>,
        lease: kv.lease ?? '0',
      });
    }
    return out;
  }

  /** A user's registry hash straight from Redis: connection id → worker id. */
  registry(uid: string): Map<string, string> {
    const lines = this.redis.cli('HGETALL', `courier:conn:{${uid}}`).split('\n').filter(Boolean);
    const out = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) {
      out.set(lines[i] as string, (JSON.parse(lines[i + 1] as string) as { worker: string }).worker);
    }
    return out;
  }

  /** A call to a business node's public API, with the cluster's API key unless `auth` says otherwise. */
  async http<T = Record<string, unknown>>(
    base: string,
    method: string,
    path: string,
    body?: unknown,
    auth: string | null = this.secrets.apiKey,
  ): Promise<{ status: number; json: T }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth) headers.authorization = `Bearer ${auth}`;
    const res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
  }

  /** Stops every node (workers first, as a deploy would: they hand clients off), then the servers. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const role of ['worker', 'dispatcher', 'business'] as const) {
        await Promise.allSettled(this.nodesOf(role).map((n) => n.proc.stop(10_000)));
      }
      await Promise.allSettled([this.redis.stop(), this.etcd.stop(), this.mariadb.stop()]);
    })();
    return this.stopping;
  }

  private env(id: string): NodeJS.ProcessEnv {
    const { leaseTtlSeconds = 10, logLevel = 'warn' } = this.options;
    return {
      ...process.env,
      COURIER_NODE_ID: id,
      COURIER_LOG_LEVEL: logLevel,
      COURIER_AUTH_API_KEYS: JSON.stringify([this.secrets.apiKey]),
      COURIER_AUTH_INTERNAL_KEY: this.secrets.internalKey,
      COURIER_AUTH_JWT_SECRET: this.secrets.jwtSecret,
      COURIER_REDIS_MODE: 'standalone',
      COURIER_REDIS_URL: this.redis.url,
      COURIER_DISCOVERY_DRIVER: 'etcd',
      COURIER_DISCOVERY_ETCD_HOSTS: JSON.stringify([this.etcd.endpoint]),
      COURIER_DISCOVERY_ETCD_LEASE_TTL_SECONDS: String(leaseTtlSeconds),
      COURIER_STORE_DRIVER: 'mysql',
      COURIER_STORE_MYSQL_URL: this.mysqlUrl,
      ...this.options.env,
    };
  }

  /** Public listeners on `host` (fixed port or free), internal ones (dispatch API, gRPC) on loopback. */
  private listenEnv(role: ClusterRole, port: number): Record<string, string> {
    const host = this.options.host ?? '127.0.0.1';
    switch (role) {
      case 'business': {
        const own: Record<string, string> = this.options.embedDispatchers
          ? {
              COURIER_BUSINESS_EMBED_DISPATCHER: 'true',
              COURIER_DISPATCHER_HTTP_HOST: '127.0.0.1',
              COURIER_DISPATCHER_HTTP_PORT: '0',
            }
          : {};
        return { COURIER_BUSINESS_HTTP_HOST: host, COURIER_BUSINESS_HTTP_PORT: String(port), ...own };
      }
      case 'dispatcher':
        return { COURIER_DISPATCHER_HTTP_HOST: '127.0.0.1', COURIER_DISPATCHER_HTTP_PORT: String(port) };
      case 'worker':
        return {
          COURIER_WORKER_WS_HOST: host,
          COURIER_WORKER_WS_PORT: String(port),
          COURIER_WORKER_GRPC_HOST: '127.0.0.1',
          COURIER_WORKER_GRPC_PORT: '0',
        };
    }
  }

  private async migrate(): Promise<void> {
    const args = ['--enable-source-maps', 'dist/cmd/migrate/main.js', '--config', 'configs/business.yaml'];
    const proc = spawnServer(process.execPath, args, { env: this.env('migrate'), cwd: ROOT });
    try {
      await waitFor('cmd/migrate to finish', () => exitedOf(proc), this.options.startTimeoutMs ?? 30_000);
    } finally {
      proc.kill();
    }
    if (proc.child.exitCode !== 0) throw new Error(`cmd/migrate failed:\n${tail(proc.output())}`);
  }

  /** Until the node's key is in etcd and its /readyz says 200; fails at once, with its output, if it exits. */
  private async untilReady(node: ClusterNode): Promise<void> {
    const key = `${ETCD_DIRS[node.role]}${node.id}`;
    let exited = false;
    try {
      await waitFor(
        `${node.id} to register in etcd and answer /readyz`,
        async () => {
          if (exitedOf(node.proc)) return (exited = true);
          const url = (await this.etcdEntries()).get(key)?.value[node.role === 'worker' ? 'ws' : 'http'];
          if (typeof url !== 'string') return false;
          node.url = url;
          const readyz = new URL('/readyz', url.replace(/^ws/, 'http'));
          return (await fetch(readyz, { signal: AbortSignal.timeout(1_000) })).status === 200;
        },
        this.options.startTimeoutMs ?? 30_000,
        100,
      );
    } catch (err) {
      throw new Error(`${String(err)}\n--- output of ${node.id} ---\n${tail(node.proc.output())}`);
    }
    if (exited) {
      const how = node.proc.child.exitCode ?? node.proc.child.signalCode;
      throw new Error(
        `${node.id} exited during start-up (${how})\n--- its output ---\n${tail(node.proc.output())}`,
      );
    }
  }
}
