import {
  checkRule,
  fullAfterMs,
  takeToken,
  type Bucket,
  type RateLimiter,
  type RateRule,
  type RateVerdict,
} from './rate-limiter.js';

export interface MemoryRateLimiterOptions extends RateRule {
  name?: string; // for error messages (default 'ratelimit')
  now?: () => number; // clock, injectable for tests (default Date.now)
}

// Buckets that are full again are forgotten once per this many takes, so distinct ids cannot grow the map
// without bound and no timer is needed.
const SWEEP_EVERY = 1024;

/** Buckets of one process (the all-in-one, or a single business node). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly rule: RateRule;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private untilSweep = SWEEP_EVERY;

  constructor(options: MemoryRateLimiterOptions) {
    this.rule = checkRule(
      { perSecond: options.perSecond, burst: options.burst },
      options.name ?? 'ratelimit',
    );
    this.now = options.now ?? Date.now;
  }

  async take(id: string): Promise<RateVerdict> {
    const now = this.now();
    if (--this.untilSweep <= 0) this.sweep(now);
    let bucket = this.buckets.get(id);
    if (!bucket) this.buckets.set(id, (bucket = { tokens: this.rule.burst, at: now }));
    const wait = takeToken(bucket, now, this.rule);
    return wait === 0 ? { ok: true } : { ok: false, retryAfterMs: wait };
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }

  private sweep(now: number): void {
    this.untilSweep = SWEEP_EVERY;
    const full = fullAfterMs(this.rule);
    for (const [id, bucket] of this.buckets) if (now - bucket.at >= full) this.buckets.delete(id);
  }
}
