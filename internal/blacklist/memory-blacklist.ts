import {
  AUTO_BAN_REASON,
  autoBanOptions,
  checkTtl,
  extendedExpiry,
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

export interface MemoryBlacklistOptions extends Partial<AutoBanOptions> {
  now?: () => number; // clock, injectable for tests (default Date.now)
}

interface Counter {
  count: number;
  resetAt: number;
}

// Expired counters are swept once per this many attempts, so a flood of distinct IPs cannot grow the map
// without bound and no timer is needed.
const SWEEP_EVERY = 1024;

/** The blacklist of one process (the all-in-one): the same rules as the Redis one, in two maps. */
export class MemoryBlacklist implements Blacklist {
  private readonly options: AutoBanOptions;
  private readonly now: () => number;
  private readonly bans = { uid: new Map<string, Ban>(), ip: new Map<string, Ban>() };
  private readonly counters = new Map<string, Counter>();
  private untilSweep = SWEEP_EVERY;

  constructor(options: MemoryBlacklistOptions = {}) {
    const { now, ...rest } = options;
    this.options = autoBanOptions(rest);
    this.now = now ?? Date.now;
  }

  async ban(kind: BanKind, id: string, ttlMs: number, reason: string): Promise<Ban> {
    checkTtl(ttlMs);
    const ban: Ban = { kind, id, reason, expiresAt: this.now() + ttlMs, auto: false };
    this.bans[kind].set(id, ban);
    this.counters.delete(counterKey(kind, id));
    return { ...ban };
  }

  async unban(kind: BanKind, id: string): Promise<boolean> {
    this.counters.delete(counterKey(kind, id));
    const had = this.live(kind, id) !== undefined;
    this.bans[kind].delete(id);
    return had;
  }

  async check({ uid, ip }: Subject): Promise<Ban | null> {
    const ban =
      (uid === undefined ? undefined : this.live('uid', uid)) ??
      (ip === undefined ? undefined : this.live('ip', ip));
    return ban ? { ...ban } : null;
  }

  async attempt({ uid, ip }: { uid: string; ip: string }): Promise<AttemptVerdict> {
    if (--this.untilSweep <= 0) this.sweep();
    return verdictOf([this.count('uid', uid), this.count('ip', ip)]);
  }

  async list(limit: number): Promise<BanList> {
    const of = (kind: BanKind) =>
      [...this.bans[kind].keys()]
        .map((id) => this.live(kind, id))
        .filter((ban): ban is Ban => ban !== undefined)
        .sort((a, b) => a.expiresAt - b.expiresAt)
        .slice(0, limit)
        .map((ban) => ({ ...ban }));
    return { uids: of('uid'), ips: of('ip') };
  }

  async close(): Promise<void> {}

  /** One subject's part of an attempt; the same steps as ATTEMPT in redis-blacklist.ts. */
  private count(kind: BanKind, id: string): AttemptVerdict {
    const now = this.now();
    const ban = this.live(kind, id);
    if (ban) {
      if (ban.auto) ban.expiresAt = extendedExpiry(ban.expiresAt, now, this.options);
      return { ok: false, ban: { ...ban }, fresh: false };
    }
    const limit = limitOf(this.options, kind);
    if (limit === 0) return { ok: true };
    const key = counterKey(kind, id);
    let counter = this.counters.get(key);
    if (!counter || counter.resetAt <= now) {
      counter = { count: 0, resetAt: now + this.options.windowMs };
      this.counters.set(key, counter);
    }
    if (++counter.count <= limit) return { ok: true };
    this.counters.delete(key);
    const fresh: Ban = { kind, id, reason: AUTO_BAN_REASON, expiresAt: now + this.options.banMs, auto: true };
    this.bans[kind].set(id, fresh);
    return { ok: false, ban: { ...fresh }, fresh: true };
  }

  /** The ban in force for id, dropping it when it has run out. */
  private live(kind: BanKind, id: string): Ban | undefined {
    const ban = this.bans[kind].get(id);
    if (ban && ban.expiresAt <= this.now()) {
      this.bans[kind].delete(id);
      return undefined;
    }
    return ban;
  }

  private sweep(): void {
    this.untilSweep = SWEEP_EVERY;
    const now = this.now();
    for (const [key, counter] of this.counters) if (counter.resetAt <= now) this.counters.delete(key);
    for (const kind of ['uid', 'ip'] as const) {
      for (const [id, ban] of this.bans[kind]) if (ban.expiresAt <= now) this.bans[kind].delete(id);
    }
  }
}

const counterKey = (kind: BanKind, id: string) => `${kind}\u0000${id}`;
