import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { Discovery, NodeInfo, NodeOf, NodeRole, Registration } from './discovery.js';
import { LeaseKeeper } from './etcd-lease-keeper.js';
import { RoleWatch } from './etcd-role-watch.js';

// DESIGN §5: the folder of each role under the prefix. `business` is singular on purpose.
const ROLE_DIRS: Record<NodeRole, string> = {
  worker: 'workers',
  dispatcher: 'dispatchers',
  business: 'business',
};
const PING_TIMEOUT_MS = 1_000; // readiness probes must answer quickly even when etcd hangs
const CALL_TIMEOUT_MS = 5_000; // deadline of every unary call, so a hung etcd fails calls instead of stalling them

export interface EtcdDiscoveryOptions {
  prefix: string; // key prefix ending in '/', default '/courier/'
  leaseTtlSeconds: number; // a dead node's keys vanish this long after its last keep-alive, default 10
  logger: Logger;
  /** Only used when no client is injected; the discovery then owns (and closes) the client it creates. */
  hosts?: string[];
}

/** An etcd3 client for `hosts` (e.g. ['http://127.0.0.1:2379']); the caller owns it and closes it. */
export function createEtcd(hosts: string[]): Etcd3 {
  return new Etcd3({
    hosts,
    // Streams (watch, lease keep-alive) live for the whole process, so only one-shot calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    faultHandling: { host: () => hostBreaker() },
  });
}

type HostPolicy = ReturnType<NonNullable<NonNullable<IOptions['faultHandling']>['host']>>;
const BREAKER_FAILURES = 3; // recoverable failures in a row that hold a host back
const BREAKER_OPEN_MS = 1_000; // how long it is held back before calls go through again

/**
 * etcd3's default per-host circuit breaker holds a host back for 5 s after 3 failures, so every client
 * stays blind for up to 5 s after etcd is back from a restart (leases not renewed, watches not resumed).
 * Same rule with a 1 s hold: a multi-host pool still skips a dead member, and we recover within ~1 s.
 */
function hostBreaker(): HostPolicy {
  let failures = 0;
  let openUntil = 0;
  const noEvent = () => ({ dispose: () => undefined });
  return {
    _altReturn: undefined as never,
    onSuccess: noEvent,
    onFailure: noEvent,
    async execute(fn) {
      if (Date.now() < openUntil) throw new Error('etcd host held back after repeated failures');
      try {
        const result = await fn({ signal: new AbortController().signal });
        failures = 0;
        return result;
      } catch (err) {
        if (err instanceof Error && isRecoverableError(err) && ++failures >= BREAKER_FAILURES) {
          failures = 0;
          openUntil = Date.now() + BREAKER_OPEN_MS;
        }
        throw err;
      }
    },
  };
}

/**
 * Discovery on etcd: each registered node is a key under its own lease, kept alive and re-created when lost;
 * watchers keep a local copy of a role's keys from watch events and re-read the range after any reconnect.
 * An injected client stays the caller's: close() then leaves it open. Without one, the discovery creates a
 * client from `hosts` and closes it in close().
 */
export class EtcdDiscovery implements Discovery {
  private readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly log: Logger;
  private readonly registrations = new Set<LeaseKeeper>();
  private readonly watches = new Set<{ stop(): void }>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: EtcdDiscoveryOptions,
    client?: Etcd3,
  ) {
    if (!options.prefix.endsWith('/')) {
      throw new Error(`discovery.etcd.prefix must end with "/" (got "${options.prefix}")`);
    }
    if (!Number.isInteger(options.leaseTtlSeconds) || options.leaseTtlSeconds < 2) {
      throw new Error(
        `discovery.etcd.leaseTtlSeconds must be an integer of at least 2 (got ${options.leaseTtlSeconds})`,
      );
    }
    if (!client && !options.hosts?.length) {
      throw new Error('discovery.etcd.hosts must list at least one etcd endpoint');
    }
    this.client = client ?? createEtcd(options.hosts ?? []);
    this.ownsClient = !client;
    this.log = options.logger.child({ component: 'etcd-discovery' });
  }

  /** The etcd key of a node, e.g. `/courier/workers/w1`. */
  private keyOf(role: NodeRole, id: string): string {
    return `${this.rolePrefix(role)}${id}`;
  }

  async register(node: NodeInfo): Promise<Registration> {
    this.assertOpen();
    const keeper = new LeaseKeeper(
      this.client,
      this.keyOf(node.role, node.id),
      node,
      this.options.leaseTtlSeconds,
      encodeNode,
      this.log.child({ nodeId: node.id, role: node.role }),
    );
    await keeper.start();
    if (this.closing) {
      await keeper.revoke(); // close() ran while we were granting: it could not see this lease
      throw new Error('etcd discovery closed during register');
    }
    this.registrations.add(keeper);
    return {
      update: (next) => keeper.update(next),
      revoke: async () => {
        this.registrations.delete(keeper);
        await keeper.revoke();
      },
    };
  }

  async list<R extends NodeRole>(role: R): Promise<NodeOf<R>[]> {
    this.assertOpen();
    const prefix = this.rolePrefix(role);
    const res = await this.client.getAll().prefix(prefix).exec();
    const nodes: NodeOf<R>[] = [];
    for (const kv of res.kvs) {
      const node = decodeNode(role, kv.key.toString().slice(prefix.length), kv.value.toString(), this.log);
      if (node) nodes.push(node);
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  async watch<R extends NodeRole>(role: R, onChange: (nodes: NodeOf<R>[]) => void): Promise<() => void> {
    this.assertOpen();
    const prefix = this.rolePrefix(role);
    const log = this.log.child({ watch: role });
    const watch = new RoleWatch<R>(
      this.client,
      prefix,
      (id, text) => decodeNode(role, id, text, log),
      onChange,
      log,
    );
    await watch.start();
    if (this.closing) watch.stop(); // close() ran during the first read: nothing more will be reported
    this.watches.add(watch);
    return () => {
      this.watches.delete(watch);
      watch.stop();
    };
  }

  async ping(): Promise<boolean> {
    if (this.closing) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)),
    );
    const status = this.client.maintenance
      .status({ deadline: Date.now() + PING_TIMEOUT_MS })
      .then(() => true)
      .catch((err: unknown) => {
        this.log.debug({ err }, 'etcd ping failed');
        return false;
      });
    try {
      return await Promise.race([status, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops watchers and revokes this node's leases (keys vanish at once); closes the client if it owns it. */
  close(): Promise<void> {
    this.closing ??= this.runClose();
    return this.closing;
  }

  private async runClose(): Promise<void> {
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    const keepers = [...this.registrations];
    this.registrations.clear();
    const results = await Promise.allSettled(keepers.map((k) => k.revoke()));
    for (const r of results) {
      if (r.status === 'rejected')
        this.log.warn({ err: r.reason }, 'lease revoke failed on close; keys expire by TTL');
    }
    if (this.ownsClient) this.client.close();
  }

  private rolePrefix(role: NodeRole): string {
    return `${this.options.prefix}${ROLE_DIRS[role]}/`;
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('etcd discovery is closed');
  }
}

/** The stored JSON of DESIGN §5: exactly these fields; the role is implied by the key. */
export function encodeNode(node: NodeInfo): string {
  switch (node.role) {
    case 'worker': {
      const { id, grpc, ws, conns, startedAt } = node;
      return JSON.stringify({ id, grpc, ws, conns, startedAt });
    }
    case 'dispatcher':
    case 'business':
      return JSON.stringify({ id: node.id, http: node.http });
  }
}

/** Parses a stored value with a guard; anything malformed is logged and skipped, never thrown. */
export function decodeNode<R extends NodeRole>(
  role: R,
  id: string,
  text: string,
  log: Logger,
): NodeOf<R> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    log.warn({ role, id, err }, 'skipping an etcd node whose value is not JSON');
    return null;
  }
  const node = toNode(role, id, value);
  if (!node) log.warn({ role, id, value: text.slice(0, 200) }, 'skipping an etcd node with an invalid value');
  // toNode builds a node of exactly `role`, which TypeScript cannot follow through the generic.
  return node as NodeOf<R> | null;
}

function toNode(role: NodeRole, id: string, value: unknown): NodeInfo | null {
  if (typeof value !== 'object' || value === null) return null;
  const { id: storedId, grpc, ws, conns, startedAt, http } = value as Record<string, unknown>;
  if (storedId !== id) return null; // the key names the node; a value for another id is corrupt
  const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  if (role === 'worker') {
    if (typeof grpc !== 'string' || typeof ws !== 'string' || !isCount(conns) || !isCount(startedAt))
      return null;
    return { role, id, grpc, ws, conns, startedAt };
  }
  return typeof http === 'string' ? { role, id, http } : null;
}
