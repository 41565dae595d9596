// Options and helpers shared by `conns` and `push`: what to target, how to authenticate, how to spread
// connections over processes and source addresses, and per-second series merged from the generators.
import { check, type Specs } from './args.js';
import type { TargetSpec } from './ipc.js';

export const GATEWAY_HELP =
  'ask GET /v1/gateway again after this many connections: once per connection would\n' +
  'add one HTTP request per connection to business (≈ 4,200 req/s here, below the open-rate\n' +
  'target) while once per run would pin every connection to one worker; workers publish\n' +
  'their connection counts every few seconds, so every K tracks the least-loaded worker';

export const targetSpecs = {
  target: {
    kind: 'str',
    def: 'courier',
    help: 'courier, or socketio (the reference peer of scripts/loadtest/peers/)',
  },
  url: {
    kind: 'str',
    def: 'http://127.0.0.1:8080',
    help: 'courier: business base URL; socketio: the peer base URL',
  },
  jwtSecret: { kind: 'str', help: 'HS256 secret of the server (auth.jwt.secret): mint tokens locally' },
  jwtIssuer: { kind: 'str', def: 'courier', help: 'iss claim of minted tokens (auth.jwt.issuer)' },
  apiKey: {
    kind: 'str',
    help: 'server API key: POST /v1/tokens when no --jwt-secret; authorises HTTP sends',
  },
  gatewayEvery: { kind: 'int', def: 50, help: GATEWAY_HELP },
  connectTimeout: {
    kind: 'num',
    def: 15,
    help: 'seconds for one connection to say welcome before it counts as failed',
  },
  spread: {
    kind: 'bool',
    help:
      'use the loopback addresses as destinations (127.0.0.2… → the worker, which must listen on 0.0.0.0) instead of\n' +
      'binding them as sources (no bind() at all; bound sources get ports picked by the generator, see\n' +
      'docs/LOADTEST.md "Many connections on one machine")',
  },
  role: { kind: 'str', def: 'customer', help: 'role claim of the load users: customer or agent' },
  platform: { kind: 'str', def: 'load', help: 'platform claim of the load users' },
  procs: { kind: 'int', def: 0, help: 'generator processes (0 = as few as keep each under --max-per-proc)' },
  sources: {
    kind: 'int',
    def: 0,
    help:
      'loopback source addresses to bind (0 = none while one would do, else as few as keep each under\n' +
      '--max-per-source)',
  },
  sourceBase: {
    kind: 'str',
    def: '127.0.0.2',
    help: 'first source address; the others follow (127.0.0.3, …)',
  },
  maxPerProc: {
    kind: 'int',
    def: 15_000,
    help: 'connections per generator process (hard file limit here: 20,000)',
  },
  maxPerSource: {
    kind: 'int',
    def: 25_000,
    help: 'connections per source address (≈ 28,000 ephemeral ports per destination)',
  },
  uidPrefix: { kind: 'str', help: 'prefix of generated uids (default: lt<time>-, unique per run)' },
  out: { kind: 'str', def: 'reports', help: 'directory for the JSON and HTML report' },
} satisfies Specs;

export const memorySpecs = {
  workerPids: {
    kind: 'str',
    help: 'comma-separated server pids to read VmRSS from (default: found by command line)',
  },
  etcd: {
    kind: 'str',
    help: 'etcd endpoints (comma-separated): find worker pids from <prefix>workers/ keys',
  },
  etcdPrefix: {
    kind: 'str',
    def: '/courier/',
    help: 'etcd key prefix of the cluster (discovery.etcd.prefix)',
  },
  redisUrl: { kind: 'str', help: 'Redis of the registry: INFO memory used_memory before and after' },
} satisfies Specs;

export interface TargetOptions {
  target: string;
  url: string;
  jwtSecret: string;
  jwtIssuer: string;
  apiKey: string;
  gatewayEvery: number;
  connectTimeout: number;
  spread?: boolean;
  role: string;
  platform: string;
}

export function buildTarget(o: TargetOptions): TargetSpec {
  check(
    o.target === 'courier' || o.target === 'socketio',
    `--target must be courier or socketio (got ${o.target})`,
  );
  check(o.role === 'customer' || o.role === 'agent', `--role must be customer or agent (got ${o.role})`);
  check(
    /^[a-z0-9_-]{1,16}$/.test(o.platform),
    `--platform must be 1–16 characters of a-z 0-9 _ - (got ${o.platform})`,
  );
  check(o.gatewayEvery >= 1, `--gateway-every must be at least 1 (got ${o.gatewayEvery})`);
  check(o.connectTimeout > 0, `--connect-timeout must be positive (got ${o.connectTimeout})`);
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new RangeError(`--url is not a URL: ${o.url}`);
  }
  // Load is only ever aimed at this machine: a typo must not send a million connections elsewhere.
  check(
    /^127\.\d+\.\d+\.\d+$|^localhost$/.test(url.hostname),
    `--url must point at 127.0.0.0/8 or localhost (got ${url.hostname})`,
  );
  if (o.target === 'courier') {
    check(
      o.jwtSecret !== '' || o.apiKey !== '',
      'courier needs --jwt-secret (mint tokens locally) or --api-key (POST /v1/tokens)',
    );
  }
  return {
    kind: o.target as TargetSpec['kind'],
    url: o.url.replace(/\/+$/, ''),
    jwtSecret: o.jwtSecret,
    jwtIssuer: o.jwtIssuer,
    apiKey: o.apiKey,
    gatewayEvery: o.gatewayEvery,
    connectTimeoutMs: o.connectTimeout * 1000,
    spread: o.spread === true,
    role: o.role as TargetSpec['role'],
    platform: o.platform,
  };
}

export function defaultUidPrefix(asked: string): string {
  return asked || `lt${Date.now().toString(36)}-`;
}

/** Per-second counters merged from all generators; index = second since the run's start. */
export class PerSecond {
  private readonly values: number[] = [];
  private readonly reported = new Map<number, number>(); // generator → the second it was in at its last tick

  add(sec: number, n: number): void {
    if (sec < 0 || !Number.isFinite(sec)) sec = 0;
    while (this.values.length <= sec) this.values.push(0);
    this.values[sec] = (this.values[sec] ?? 0) + n;
  }

  /** Generator `from` has reported everything it counted before second `sec`. */
  reportedBefore(from: number, sec: number): void {
    this.reported.set(from, Math.max(this.reported.get(from) ?? 0, sec));
  }

  /**
   * The newest second every generator has reported in full (for the progress line). Generators tick once a
   * second, not in step with each other or with the seconds: the second before the newest one counted may
   * still lack the share of a generator that ticks later (a 1,500/s run showed 1,130/s every few seconds).
   */
  last(): number {
    if (this.reported.size === 0)
      return this.values.length >= 2 ? (this.values[this.values.length - 2] ?? 0) : (this.values[0] ?? 0);
    // A generator more than two seconds behind the newest has stopped ticking (done, or gone): not waited for.
    const seconds = [...this.reported.values()];
    const newest = Math.max(...seconds);
    const complete = Math.min(...seconds.filter((s) => s >= newest - 2)) - 1;
    return this.values[Math.max(0, complete)] ?? 0;
  }

  points(): [number, number][] {
    return this.values.map((v, i) => [i, v]);
  }

  get length(): number {
    return this.values.length;
  }

  /** The sum over every second. */
  total(): number {
    return this.values.reduce((a, b) => a + b, 0);
  }

  /** Mean over seconds [from, to) — the steady part of a run, without ramp-up and drain. */
  mean(from = 0, to = this.values.length): number {
    const slice = this.values.slice(Math.max(0, from), Math.max(0, to));
    return slice.length ? slice.reduce((a, b) => a + b, 0) / slice.length : 0;
  }
}

export function sortedCounts(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort((a, b) => b[1] - a[1]);
}

export function sumCounts(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
