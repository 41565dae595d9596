// The blacklist of DESIGN §1.6: uids and IPs banned by hand (with expiry and reason) or automatically, when
// one uid or one IP makes too many connection attempts within a window. Every attempt during an automatic
// ban pushes its end further out, up to a cap. Workers ask it before each upgrade, business before each
// call made with a user token and each send.

export type BanKind = 'uid' | 'ip';

export interface Ban {
  kind: BanKind;
  /** The uid, or the IP address in canonical form (see canonicalIp). */
  id: string;
  reason: string;
  /** Ms since the epoch. */
  expiresAt: number;
  /** Set by the connection-rate rule rather than by hand. */
  auto: boolean;
}

export interface BanList {
  uids: Ban[];
  ips: Ban[];
}

/** Who is knocking: a check may name either or both; an attempt names both. */
export interface Subject {
  uid?: string | undefined;
  ip?: string | undefined;
}

export type AttemptVerdict =
  | { ok: true }
  /** `fresh`: this very attempt went over the limit and started the ban (answered 429, later ones 403). */
  | { ok: false; ban: Ban; fresh: boolean };

export interface Blacklist {
  /** Bans `id` for `ttlMs` from now, replacing any ban it had (an automatic one included). */
  ban(kind: BanKind, id: string, ttlMs: number, reason: string): Promise<Ban>;
  /** Lifts a ban and forgets the attempts counted so far; false when there was none. */
  unban(kind: BanKind, id: string): Promise<boolean>;
  /** The ban that applies to this uid or IP (the uid's first), or null. Counts nothing. */
  check(subject: Subject): Promise<Ban | null>;
  /**
   * Counts one connection attempt of this uid and this IP, starts an automatic ban for whichever went over
   * its limit, extends automatic bans already running, and answers whether the attempt may proceed.
   */
  attempt(subject: { uid: string; ip: string }): Promise<AttemptVerdict>;
  /** Bans in force, soonest expiry first, at most `limit` of each kind. */
  list(limit: number): Promise<BanList>;
  close(): Promise<void>;
}

export interface AutoBanOptions {
  maxConnects: number; // attempts per uid within windowMs; one more starts a ban (0 = no automatic uid bans)
  maxConnectsPerIp: number; // the same per IP (0 = no automatic IP bans)
  windowMs: number; // counting window, starting at the first attempt
  banMs: number; // length of an automatic ban
  extendMs: number; // added to an automatic ban by every attempt made during it
  maxBanMs: number; // an automatic ban never ends more than this far in the future
}

export const AUTO_BAN_DEFAULTS: AutoBanOptions = {
  maxConnects: 20,
  maxConnectsPerIp: 1_000,
  windowMs: 60_000,
  banMs: 300_000,
  extendMs: 60_000,
  maxBanMs: 3_600_000,
};

export const AUTO_BAN_REASON = 'too many connection attempts';

/** Merges defaults and refuses combinations that cannot work, naming the option. */
export function autoBanOptions(options: Partial<AutoBanOptions> = {}): AutoBanOptions {
  const o = { ...AUTO_BAN_DEFAULTS, ...withoutUndefined(options) };
  for (const key of [
    'maxConnects',
    'maxConnectsPerIp',
    'windowMs',
    'banMs',
    'extendMs',
    'maxBanMs',
  ] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) {
      throw new RangeError(`blacklist: ${key} must be an integer ≥ 0 (got ${o[key]})`);
    }
  }
  for (const key of ['windowMs', 'banMs'] as const) {
    if (o[key] === 0) throw new RangeError(`blacklist: ${key} must be positive`);
  }
  if (o.maxBanMs < o.banMs) {
    throw new RangeError(`blacklist: maxBanMs (${o.maxBanMs}) must be at least banMs (${o.banMs})`);
  }
  return o;
}

/** The limit of one kind of subject. */
export function limitOf(options: AutoBanOptions, kind: BanKind): number {
  return kind === 'uid' ? options.maxConnects : options.maxConnectsPerIp;
}

/** Where an automatic ban ends after one more attempt during it: pushed out, never past the cap. */
export function extendedExpiry(expiresAt: number, now: number, options: AutoBanOptions): number {
  return Math.max(expiresAt, Math.min(expiresAt + options.extendMs, now + options.maxBanMs));
}

/** The ban of an attempt that was refused: an existing one wins over one this attempt just started. */
export function verdictOf(results: AttemptVerdict[]): AttemptVerdict {
  let fresh: AttemptVerdict | undefined;
  for (const r of results) {
    if (r.ok) continue;
    if (!r.fresh) return r;
    fresh ??= r;
  }
  return fresh ?? { ok: true };
}

export function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`blacklist: a ban needs a positive integer ttl in ms (got ${ttlMs})`);
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
