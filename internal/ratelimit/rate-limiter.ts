// Token buckets (DESIGN §3: 429 with Retry-After): each id (an API key, a uid) has a bucket of `burst`
// tokens, refilled at `perSecond`; a request takes one token or is refused with the time until the next.
// The same arithmetic serves the HTTP limits (memory or Redis, so a limit holds across business nodes) and
// the per-connection frame cap of the worker.

export interface RateRule {
  perSecond: number; // tokens added per second
  burst: number; // bucket size: requests allowed at once after a quiet spell
}

export type RateVerdict = { ok: true } | { ok: false; retryAfterMs: number };

export interface RateLimiter {
  /** Takes one token from `id`'s bucket. */
  take(id: string): Promise<RateVerdict>;
  close(): Promise<void>;
}

/** Refuses rules that could never let anything through or never refill, naming the field. */
export function checkRule(rule: RateRule, name: string): RateRule {
  if (!(rule.perSecond > 0) || !Number.isFinite(rule.perSecond)) {
    throw new RangeError(`${name}.perSecond must be a positive number (got ${rule.perSecond})`);
  }
  if (!Number.isInteger(rule.burst) || rule.burst < 1) {
    throw new RangeError(`${name}.burst must be an integer ≥ 1 (got ${rule.burst})`);
  }
  return rule;
}

/** One bucket's state: tokens left at time `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Refills `bucket` up to `now` and takes one token if there is one. Mutates the bucket; returns 0 when the
 * token was taken, else the ms until one will be there.
 */
export function takeToken(bucket: Bucket, now: number, rule: RateRule): number {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.tokens = Math.min(rule.burst, bucket.tokens + (elapsed * rule.perSecond) / 1000);
  bucket.at = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.ceil(((1 - bucket.tokens) * 1000) / rule.perSecond);
}

/** Ms after which an untouched bucket is full again, so its state can be forgotten. */
export function fullAfterMs(rule: RateRule): number {
  return Math.ceil((rule.burst * 1000) / rule.perSecond);
}
