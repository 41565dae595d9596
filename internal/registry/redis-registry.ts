import type { ChainableCommander } from 'ioredis';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { ROLES } from '../protocol/message.js';
import { globEscape, isCluster, pipelineByNode, scanKeys, type RedisClient } from '../redis/client.js';
import { luaScript, runScript } from '../redis/script.js';
import type { ConnectionInfo, ConnectionRef, Registry, RegistryEntry } from './registry.js';

// A batch of adds or refreshes as one script call: HSET of each key's fields, then its EXPIRE. ARGV is the TTL,
// then per key its field count and its field/value pairs. In the pipelined form (an HSET and an EXPIRE per key)
// the periodic refresh of 16,700 connections kept a worker busy with the garbage of 200 command objects per
// 100 entries: about half of its time during a pass went to collecting it (BENCHMARKS.md).
const PUT = luaScript(`local ttl = ARGV[1]
local a = 2
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[a])
  for j = 1, n do
    redis.call('HSET', key, ARGV[a + 2 * j - 1], ARGV[a + 2 * j])
  end
  a = a + 1 + 2 * n
  redis.call('EXPIRE', key, ttl)
end
return #KEYS`);

export interface RedisRegistryOptions {
  prefix: string; // key prefix of DESIGN §5, e.g. `courier:`
  ttlSeconds: number; // expiry of conn:{uid}, pushed forward by every add/refresh
  logger?: Logger; // where dropped (unparseable) entries are reported
}

/** Guard for values read back from Redis: anything else in a hash is dropped, never trusted. */
export function parseConnectionInfo(value: string): ConnectionInfo | undefined {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const v = data as Record<string, unknown>;
  const ok =
    typeof v.worker === 'string' &&
    typeof v.ip === 'string' &&
    ROLES.includes(v.role as ConnectionInfo['role']) &&
    typeof v.platform === 'string' &&
    typeof v.channel === 'string' &&
    typeof v.since === 'number' &&
    Number.isFinite(v.since);
  return ok ? (v as unknown as ConnectionInfo) : undefined;
}

/**
 * The registry on Redis (standalone, Sentinel or Cluster): one hash `${prefix}conn:{uid}` per user. The `{uid}`
 * hash tag keeps a user's hash on one Cluster node; batches become one pipeline per node.
 *
 * The client is injected and stays its creator's: close() stops this registry from using it but never quits it.
 */
export class RedisRegistry implements Registry {
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly logger: Logger | undefined;
  private closed = false;

  constructor(
    options: RedisRegistryOptions,
    private readonly client: RedisClient,
  ) {
    if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new RangeError(`registry.ttlSeconds: expected a positive integer, got ${options.ttlSeconds}`);
    }
    this.prefix = options.prefix;
    this.ttlSeconds = options.ttlSeconds;
    this.logger = options.logger;
  }

  private key(uid: string): string {
    return `${this.prefix}conn:{${uid}}`;
  }

  /** A worker's checkpoint marker; the `{workerId}` hash tag keeps it on one Cluster node like a user hash. */
  private markerKey(workerId: string): string {
    return `${this.prefix}worker:{${workerId}}`;
  }

  /** The uid of a key written by this registry, or undefined for a foreign key under the same prefix. */
  private uidOf(key: string): string | undefined {
    const head = `${this.prefix}conn:{`;
    return key.startsWith(head) && key.endsWith('}') ? key.slice(head.length, -1) : undefined;
  }

  async add(entries: RegistryEntry[]): Promise<void> {
    await this.put('add', entries);
  }

  async refresh(entries: RegistryEntry[]): Promise<void> {
    // HSET re-creates fields lost with a Redis restart, so refreshing is the same write as adding.
    await this.put('refresh', entries);
  }

  private async put(op: string, entries: RegistryEntry[]): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const { uid, connId, info } of entries) {
      const key = this.key(uid);
      const fields = byKey.get(key) ?? [];
      fields.push(connId, JSON.stringify(info));
      byKey.set(key, fields);
    }
    // On Cluster a batch's keys live in many slots, which one script call cannot span: a pipeline per node.
    if (!isCluster(this.client)) return this.putByScript(op, byKey);
    await this.run(op, [...byKey.keys()], (p, key) => {
      p.hset(key, ...(byKey.get(key) ?? []));
      p.expire(key, this.ttlSeconds);
    });
  }

  async remove(refs: ConnectionRef[]): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const { uid, connId } of refs) {
      const key = this.key(uid);
      byKey.set(key, [...(byKey.get(key) ?? []), connId]);
    }
    // Redis deletes a hash when its last field goes, so no separate cleanup is needed.
    await this.run('remove', [...byKey.keys()], (p, key) => p.hdel(key, ...(byKey.get(key) ?? [])));
  }

  async lookup(uids: string[]): Promise<Map<string, Map<string, ConnectionInfo>>> {
    const unique = [...new Set(uids)];
    const hashes = await this.readHashes(
      'lookup',
      unique.map((uid) => this.key(uid)),
    );
    const out = new Map<string, Map<string, ConnectionInfo>>();
    unique.forEach((uid, i) => {
      const conns = new Map<string, ConnectionInfo>();
      for (const [connId, value] of Object.entries(hashes[i] ?? {})) {
        const info = parseConnectionInfo(value);
        if (info) conns.set(connId, info);
        else this.logger?.warn({ uid, connId }, 'registry: dropped an unparseable connection entry');
      }
      if (conns.size > 0) out.set(uid, conns);
    });
    return out;
  }

  /**
   * With `uids`, checks only those hashes (a worker knows its own users; a dispatcher the users it routed).
   * Without, SCANs every `conn:` key under the prefix on every master: O(keys in Redis), for worker start-up
   * and dead-worker sweeps only.
   */
  async removeWorker(workerId: string, uids?: string[]): Promise<number> {
    this.checkOpen('removeWorker');
    let removed = 0;
    if (uids) {
      removed = await this.removeWorkerIn(
        workerId,
        [...new Set(uids)].map((uid) => this.key(uid)),
      );
    } else {
      const pattern = `${globEscape(this.prefix)}conn:{*}`;
      await scanKeys(this.client, pattern, async (keys) => {
        removed += await this.removeWorkerIn(
          workerId,
          keys.filter((key) => this.uidOf(key) !== undefined),
        );
      });
    }
    // Last, so that a worker that is alive after all re-puts its entries after this removal, not before it.
    await this.run('removeWorker', [this.markerKey(workerId)], (p, key) => p.del(key));
    return removed;
  }

  async checkpoint(workerId: string): Promise<boolean> {
    const ttl = this.ttlSeconds;
    // SET NX answers OK only when the marker was missing; EXPIRE keeps an existing one alive while it is called.
    const [set] = await this.run('checkpoint', [this.markerKey(workerId)], (p, key) => {
      p.set(key, String(Date.now()), 'EX', ttl, 'NX');
      p.expire(key, ttl);
    });
    return set === 'OK';
  }

  private async removeWorkerIn(workerId: string, keys: string[]): Promise<number> {
    const hashes = await this.readHashes('removeWorker', keys);
    const doomed = new Map<string, string[]>();
    keys.forEach((key, i) => {
      // Connection ids carry a nonce and are never reused, so a field read here cannot change owner before HDEL.
      const fields = Object.entries(hashes[i] ?? {})
        .filter(([, value]) => parseConnectionInfo(value)?.worker === workerId)
        .map(([connId]) => connId);
      if (fields.length > 0) doomed.set(key, fields);
    });
    const deleted = await this.run('removeWorker', [...doomed.keys()], (p, key) =>
      p.hdel(key, ...(doomed.get(key) ?? [])),
    );
    return deleted.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
  }

  async ping(): Promise<boolean> {
    if (this.closed) return false;
    try {
      return (await this.client.ping()) === 'PONG';
    } catch (err) {
      this.logger?.warn({ err: errorMessage(err) }, 'registry: redis ping failed');
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async readHashes(op: string, keys: string[]): Promise<Record<string, string>[]> {
    const hashes = await this.run(op, keys, (p, key) => p.hgetall(key));
    return hashes.map((hash) =>
      typeof hash === 'object' && hash !== null ? (hash as Record<string, string>) : {},
    );
  }

  /**
   * One batch of per-key commands, answering each key's first reply. Any error reply fails the whole call:
   * callers retry (the next refresh, the dispatcher's re-resolve) rather than act on half an answer.
   */
  private async run(
    op: string,
    keys: string[],
    queue: (pipeline: ChainableCommander, key: string) => void,
  ): Promise<unknown[]> {
    this.checkOpen(op);
    const replies = await pipelineByNode(this.client, keys, queue);
    const error = replies.flat().find(([err]) => err)?.[0];
    if (error) throw redisFailed(op, error);
    return replies.map((key) => key[0]?.[1]);
  }

  private async putByScript(op: string, byKey: Map<string, string[]>): Promise<void> {
    this.checkOpen(op);
    if (byKey.size === 0) return;
    const keys = [...byKey.keys()];
    const args: (string | number)[] = [this.ttlSeconds];
    for (const fields of byKey.values()) args.push(fields.length / 2, ...fields);
    await runScript(this.client, PUT, keys, args).catch((err: unknown) => {
      throw redisFailed(op, err);
    });
  }

  private checkOpen(op: string): void {
    if (this.closed) throw new CourierError('unavailable', `registry ${op}: the registry is closed`);
  }
}

function redisFailed(op: string, err: unknown): CourierError {
  return new CourierError('unavailable', `registry ${op}: redis failed: ${errorMessage(err)}`, undefined, {
    cause: err,
  });
}
