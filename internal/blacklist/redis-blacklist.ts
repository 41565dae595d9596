import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { pipelineByNode, type RedisClient } from '../redis/client.js';
import { LUA_NOW_MS, luaScript, runScript } from '../redis/script.js';
import { CheckCache } from './check-cache.js';
import {
  AUTO_BAN_REASON,
  autoBanOptions,
  checkTtl,
  limitOf,
  verdictOf,
  type AttemptVerdict,
  type AutoBanOptions,
  type Ban,
  type BanKind,
  type BanList,
  type Blacklist,
  type Subject,
} from './blacklist.js';

// Keys (DESIGN §5), `{…}` being the Cluster hash tag:
//   ${prefix}ban:uid:{uid}           hash {reason, auto, expiresAt}, expiring with the ban
//   ${prefix}ban:uid:{uid}:attempts  connection attempts in the current window, expiring with the window
//   ${prefix}ban:ip:{ip}, ${prefix}ban:ip:{ip}:attempts   the same per IP
//   ${prefix}ban:index:{uid}, ${prefix}ban:index:{ip}    sorted sets id → expiresAt, for listing without KEYS
//   ${prefix}ban:changes             pub/sub channel: the ban key of every ban, unban and fresh automatic ban
// A subject's ban and counter share a slot, so one script judges an attempt atomically. The index lives in
// another slot and is written after the ban: a member whose ban is gone is dropped when a listing meets it.
// Each script that starts or ends a ban publishes its key in the same atomic step (PUBLISH is allowed in
// scripts, on Cluster too), so no node's CheckCache can miss a change that was written.

// Every time below is the Redis server's (TIME), so nodes with skewed clocks agree on windows and expiries.
// Times travel as strings: Lua formats large numbers in exponent notation otherwise.
const ATTEMPT = luaScript(`${LUA_NOW_MS}
local ban = redis.call('HMGET', KEYS[1], 'reason', 'auto', 'expiresAt')
if ban[3] then
  local exp = tonumber(ban[3])
  if ban[2] == '1' then
    local nexp = math.max(exp, math.min(exp + tonumber(ARGV[4]), now + tonumber(ARGV[5])))
    if nexp > exp then
      exp = nexp
      redis.call('HSET', KEYS[1], 'expiresAt', string.format('%.0f', exp))
      redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', exp))
    end
  end
  return {1, string.format('%.0f', exp), ban[2], ban[1]}
end
local limit = tonumber(ARGV[1])
if limit == 0 then return {0} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
if n <= limit then return {0} end
local exp = string.format('%.0f', now + tonumber(ARGV[3]))
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'reason', ARGV[6], 'auto', '1', 'expiresAt', exp)
redis.call('PEXPIREAT', KEYS[1], exp)
redis.call('PUBLISH', ARGV[7], KEYS[1])
return {2, exp, '1', ARGV[6]}`);

const BAN = luaScript(`${LUA_NOW_MS}
local exp = string.format('%.0f', now + tonumber(ARGV[1]))
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'reason', ARGV[2], 'auto', '0', 'expiresAt', exp)
redis.call('PEXPIREAT', KEYS[1], exp)
redis.call('PUBLISH', ARGV[3], KEYS[1])
return exp`);

const UNBAN = luaScript(`local had = redis.call('EXISTS', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[1], KEYS[1])
return had`);

// Drops an index member only if nobody re-banned it (with a new expiry) since the listing read it.
const DROP_STALE = luaScript(`if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0`);

export interface RedisBlacklistOptions extends Partial<AutoBanOptions> {
  prefix: string; // key prefix of DESIGN §5, e.g. `courier:`
  logger?: Logger; // where failed index writes are reported
  /** How long a check's answer may be served from memory (CheckCache); 0 = every check reads Redis. */
  checkCacheMs?: number;
}

const DEFAULT_CHECK_CACHE_MS = 2_000;

/**
 * The blacklist shared by every node, on Redis (standalone, Sentinel or Cluster). The client is injected and
 * stays its creator's: close() stops this blacklist from using it but never quits it.
 */
export class RedisBlacklist implements Blacklist {
  private readonly options: AutoBanOptions;
  private readonly prefix: string;
  private readonly logger: Logger | undefined;
  private closed = false;
  // Reads in flight by ban key: a check made while one is out shares its answer. A batch of 500 messages
  // from one sender was 500 HMGETs of the same key (about 6 % of a business node's CPU under load); now it
  // is one. A check that starts after ban() or unban() returns cannot join a read sent before the write:
  // that read went out ahead of it on the same connection (the key's node) and has been answered. ban() and
  // unban() drop the key's entry as well, so that this does not rest on the client's ordering alone.
  private readonly reading = new Map<string, Promise<Ban | null>>();
  private readonly changes: string; // the channel the scripts publish changed ban keys on
  private readonly cache: CheckCache | undefined;

  constructor(
    options: RedisBlacklistOptions,
    private readonly client: RedisClient,
  ) {
    const { prefix, logger, checkCacheMs = DEFAULT_CHECK_CACHE_MS, ...rest } = options;
    this.options = autoBanOptions(rest);
    this.prefix = prefix;
    this.logger = logger;
    this.changes = `${prefix}ban:changes`;
    if (!Number.isInteger(checkCacheMs) || checkCacheMs < 0) {
      throw new RangeError(`blacklist: checkCacheMs must be an integer ≥ 0 (got ${checkCacheMs})`);
    }
    if (checkCacheMs > 0) this.cache = new CheckCache(client, this.changes, checkCacheMs, logger);
  }

  /** Whether checks may be answered from memory now (see CheckCache); false while its subscription is down. */
  get remembering(): boolean {
    return this.cache?.active ?? false;
  }

  private banKey(kind: BanKind, id: string): string {
    return `${this.prefix}ban:${kind}:{${id}}`;
  }

  private indexKey(kind: BanKind): string {
    return `${this.prefix}ban:index:{${kind}}`;
  }

  async ban(kind: BanKind, id: string, ttlMs: number, reason: string): Promise<Ban> {
    checkTtl(ttlMs);
    return this.guard(async () => {
      const key = this.banKey(kind, id);
      this.forget(key);
      const reply = await runScript(
        this.client,
        BAN,
        [key, `${key}:attempts`],
        [ttlMs, reason, this.changes],
      );
      this.forget(key); // before returning: a check made here next must not wait for the message
      const expiresAt = Number(reply);
      await this.client.zadd(this.indexKey(kind), expiresAt, id);
      return { kind, id, reason, expiresAt, auto: false };
    });
  }

  async unban(kind: BanKind, id: string): Promise<boolean> {
    return this.guard(async () => {
      const key = this.banKey(kind, id);
      this.forget(key);
      const had = await runScript(this.client, UNBAN, [key, `${key}:attempts`], [this.changes]);
      this.forget(key);
      await this.client.zrem(this.indexKey(kind), id);
      return had === 1;
    });
  }

  async check({ uid, ip }: Subject): Promise<Ban | null> {
    if (this.closed) throw new CourierError('unavailable', 'blacklist: closed');
    const byUid = uid === undefined ? null : this.read('uid', uid);
    const byIp = ip === undefined ? null : this.read('ip', ip);
    if (!(byUid instanceof Promise) && !(byIp instanceof Promise)) return byUid ?? byIp; // both remembered
    // Reads that went out travel together (auto-pipelining): one round trip, on Cluster one per node.
    return this.guard(async () => {
      const [u, i] = await Promise.all([byUid, byIp]);
      return u ?? i;
    });
  }

  async attempt({ uid, ip }: { uid: string; ip: string }): Promise<AttemptVerdict> {
    return this.guard(async () =>
      verdictOf(await Promise.all([this.count('uid', uid), this.count('ip', ip)])),
    );
  }

  async list(limit: number): Promise<BanList> {
    return this.guard(async () => {
      const [uids, ips] = await Promise.all([this.listKind('uid', limit), this.listKind('ip', limit)]);
      return { uids, ips };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.cache?.close();
  }

  private async count(kind: BanKind, id: string): Promise<AttemptVerdict> {
    const key = this.banKey(kind, id);
    const o = this.options;
    const args = [
      limitOf(o, kind),
      o.windowMs,
      o.banMs,
      o.extendMs,
      o.maxBanMs,
      AUTO_BAN_REASON,
      this.changes,
    ];
    const reply = await runScript(this.client, ATTEMPT, [key, `${key}:attempts`], args);
    if (!Array.isArray(reply) || reply[0] === 0) return { ok: true };
    const ban = parseBan(kind, id, [reply[3], reply[2], reply[1]]);
    if (!ban) throw new Error(`blacklist: unexpected reply to an attempt: ${JSON.stringify(reply)}`);
    if (reply[0] === 2) this.forget(key); // a fresh auto-ban, as after ban()
    if (ban.auto) {
      // GT: an index entry only ever moves later. Not awaited: the verdict does not depend on the listing.
      this.client
        .zadd(this.indexKey(kind), 'GT', ban.expiresAt, id)
        .catch((err: unknown) =>
          this.logger?.warn({ err: errorMessage(err), kind, id }, 'blacklist index write failed'),
        );
    }
    return { ok: false, ban, fresh: reply[0] === 2 };
  }

  /** A ban key changed here: neither a read still out nor a remembered answer may be served for it. */
  private forget(key: string): void {
    this.reading.delete(key);
    this.cache?.forget(key);
  }

  private read(kind: BanKind, id: string): Promise<Ban | null> | Ban | null {
    const key = this.banKey(kind, id);
    const known = this.cache?.get(key);
    if (known !== undefined) return known;
    let pending = this.reading.get(key);
    if (!pending) {
      const version = this.cache?.version ?? 0;
      const read = this.client
        .hmget(key, 'reason', 'auto', 'expiresAt')
        .then((fields) => {
          const ban = parseBan(kind, id, fields);
          this.cache?.remember(key, ban, version);
          return ban;
        })
        .finally(() => {
          if (this.reading.get(key) === read) this.reading.delete(key);
        });
      pending = read;
      this.reading.set(key, read);
    }
    return pending;
  }

  private async listKind(kind: BanKind, limit: number): Promise<Ban[]> {
    const index = this.indexKey(kind);
    await this.client.zremrangebyscore(index, '-inf', Date.now());
    const flat = await this.client.zrange(index, 0, limit - 1, 'WITHSCORES');
    const members: { id: string; score: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      members.push({ id: flat[i] as string, score: flat[i + 1] as string });
    const replies = await pipelineByNode(
      this.client,
      members.map((m) => this.banKey(kind, m.id)),
      (pipeline, key) => pipeline.hmget(key, 'reason', 'auto', 'expiresAt'),
    );
    const bans: Ban[] = [];
    const stale: { id: string; score: string }[] = [];
    members.forEach((member, i) => {
      const [err, fields] = replies[i]?.[0] ?? [new Error('no reply'), null];
      if (err) throw err;
      const ban = parseBan(kind, member.id, fields);
      if (ban) bans.push(ban);
      else stale.push(member);
    });
    await Promise.all(stale.map((m) => runScript(this.client, DROP_STALE, [index], [m.id, m.score])));
    return bans.sort((a, b) => a.expiresAt - b.expiresAt);
  }

  /** Redis failures become `unavailable` (503, retry); a closed blacklist refuses the same way. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new CourierError('unavailable', 'blacklist: closed');
    try {
      return await work();
    } catch (err) {
      if (err instanceof CourierError) throw err;
      throw new CourierError('unavailable', `blacklist: redis failed: ${errorMessage(err)}`, undefined, {
        cause: err,
      });
    }
  }
}

/** Guard for a ban read back from Redis: [reason, auto, expiresAt], anything malformed counts as none. */
function parseBan(kind: BanKind, id: string, fields: unknown): Ban | null {
  if (!Array.isArray(fields)) return null;
  const [reason, auto, expiresAt] = fields as unknown[];
  const at = Number(expiresAt);
  if (typeof expiresAt !== 'string' || !Number.isFinite(at)) return null;
  return { kind, id, reason: typeof reason === 'string' ? reason : '', expiresAt: at, auto: auto === '1' };
}
