// A few minutes of one node's traffic in fixed steps (count and a latency histogram per step), for the admin
// dashboard's messages/s and p99. Prometheus keeps the long history; this only answers "what is happening
// now" without a Prometheus server. Recording is O(1) and allocation-free, so it can sit on the hot path.

export const LATENCY_BUCKETS = 64;
const FIRST_BOUND_MS = 0.1; // upper bound of bucket 0
const GROWTH = 1.25; // each bucket is 25 % wider than the one before: p99 is exact to within that
const LOG_GROWTH = Math.log(GROWTH);

/** One step: its start (ms), how many events, and the non-empty latency buckets as [index, count]. */
export interface WindowPoint {
  t: number;
  count: number;
  buckets: [number, number][];
}

export interface WindowSnapshot {
  stepMs: number;
  /** Oldest first, ending with the step now running; steps without events are left out. */
  points: WindowPoint[];
}

export function bucketOf(latencyMs: number): number {
  if (!(latencyMs > FIRST_BOUND_MS)) return 0;
  return Math.min(LATENCY_BUCKETS - 1, Math.ceil(Math.log(latencyMs / FIRST_BOUND_MS) / LOG_GROWTH));
}

/** The upper bound (ms) of a bucket: what a quantile falling into it is reported as. */
export function bucketBoundMs(index: number): number {
  return FIRST_BOUND_MS * GROWTH ** index;
}

export class RateWindow {
  private readonly starts: Float64Array;
  private readonly counts: Float64Array;
  private readonly hist: Uint32Array;

  constructor(
    readonly stepMs = 5_000, // resolution of the dashboard's charts
    private readonly steps = 60, // kept steps: 5 minutes at the default step
    private readonly now: () => number = Date.now,
  ) {
    if (!(stepMs > 0) || !Number.isInteger(steps) || steps < 1) {
      throw new RangeError(`rate window: stepMs must be positive and steps an integer ≥ 1`);
    }
    this.starts = new Float64Array(steps).fill(-1);
    this.counts = new Float64Array(steps);
    this.hist = new Uint32Array(steps * LATENCY_BUCKETS);
  }

  /** Counts `count` events now; `latencyMs` (when known) goes into this step's histogram once per event. */
  record(latencyMs?: number, count = 1): void {
    const slot = this.slotNow();
    this.counts[slot] = (this.counts[slot] ?? 0) + count;
    if (latencyMs === undefined) return;
    const i = slot * LATENCY_BUCKETS + bucketOf(latencyMs);
    this.hist[i] = (this.hist[i] ?? 0) + count;
  }

  snapshot(): WindowSnapshot {
    const current = Math.floor(this.now() / this.stepMs) * this.stepMs;
    const oldest = current - (this.steps - 1) * this.stepMs;
    const points: WindowPoint[] = [];
    for (let slot = 0; slot < this.steps; slot++) {
      const t = this.starts[slot] ?? -1;
      if (t < oldest || t > current || (this.counts[slot] ?? 0) === 0) continue;
      const buckets: [number, number][] = [];
      for (let b = 0; b < LATENCY_BUCKETS; b++) {
        const n = this.hist[slot * LATENCY_BUCKETS + b] ?? 0;
        if (n > 0) buckets.push([b, n]);
      }
      points.push({ t, count: this.counts[slot] ?? 0, buckets });
    }
    return { stepMs: this.stepMs, points: points.sort((a, b) => a.t - b.t) };
  }

  private slotNow(): number {
    const start = Math.floor(this.now() / this.stepMs) * this.stepMs;
    const slot = Math.floor(start / this.stepMs) % this.steps;
    if (this.starts[slot] !== start) {
      this.starts[slot] = start;
      this.counts[slot] = 0;
      this.hist.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
    }
    return slot;
  }
}

export interface SeriesPoint {
  t: number;
  /** Events per second over the step. */
  perSecond: number;
  /** 99th percentile latency in ms (bucket upper bound), or null when no latency was recorded. */
  p99Ms: number | null;
}

/** Adds the windows of several nodes step by step (same stepMs) and derives rate and p99 per step. */
export function mergeWindows(snapshots: WindowSnapshot[], stepMs: number): SeriesPoint[] {
  const byStep = new Map<number, { count: number; hist: number[] }>();
  for (const snap of snapshots) {
    if (snap.stepMs !== stepMs) continue; // a node on another version: left out rather than misread
    for (const p of snap.points) {
      let step = byStep.get(p.t);
      if (!step) byStep.set(p.t, (step = { count: 0, hist: new Array<number>(LATENCY_BUCKETS).fill(0) }));
      step.count += p.count;
      for (const [b, n] of p.buckets)
        if (b >= 0 && b < LATENCY_BUCKETS) step.hist[b] = (step.hist[b] ?? 0) + n;
    }
  }
  return [...byStep]
    .sort(([a], [b]) => a - b)
    .map(([t, step]) => ({ t, perSecond: (step.count * 1000) / stepMs, p99Ms: quantileMs(step.hist, 0.99) }));
}

/** The q-quantile of a bucket histogram, as the upper bound of the bucket it falls into. */
export function quantileMs(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b] ?? 0;
    if (seen >= rank) return bucketBoundMs(b);
  }
  return bucketBoundMs(hist.length - 1);
}

/** Rate and p99 over every step of the windows that started at or after `sinceMs`, as one figure. */
export function summarize(
  snapshots: WindowSnapshot[],
  sinceMs: number,
  nowMs: number,
): Omit<SeriesPoint, 't'> {
  const hist = new Array<number>(LATENCY_BUCKETS).fill(0);
  let count = 0;
  for (const snap of snapshots) {
    for (const p of snap.points) {
      if (p.t < sinceMs) continue;
      count += p.count;
      for (const [b, n] of p.buckets) if (b >= 0 && b < LATENCY_BUCKETS) hist[b] = (hist[b] ?? 0) + n;
    }
  }
  const seconds = Math.max(1, (nowMs - sinceMs) / 1000);
  return { perSecond: count / seconds, p99Ms: quantileMs(hist, 0.99) };
}
