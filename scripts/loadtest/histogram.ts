// An HDR-style histogram of non-negative integer values (the tools record microseconds): values below 256
// are counted exactly; above, each power of two is split into 128 linear buckets, so any recorded value is
// known to within 1/128 (0.8%) of itself, and reported as its bucket's midpoint (error ≤ 0.4%). Fixed
// memory (≈ 36 KB), O(1) record, exact merge: generators record locally and ship sparse counts over IPC.

const SUB_BITS = 7; // 128 linear sub-buckets per power of two
const HALF = 1 << SUB_BITS; // 128
const EXACT = HALF << 1; // values < 256 get a bucket each
const MAX_EXPONENT = 40; // 2^47 µs ≈ 4.5 years: nothing a load run measures is larger
const BUCKETS = EXACT + MAX_EXPONENT * HALF;

/** Sparse form for IPC and reports: [bucket index, count] pairs plus exact extremes. */
export interface HistogramData {
  pairs: number[]; // flattened [index, count, index, count, …]
  min: number;
  max: number;
  sum: number;
}

function bucketOf(value: number): number {
  if (value < EXACT) return value;
  let e = Math.floor(Math.log2(value)) - SUB_BITS; // chosen so that value / 2^e is in [128, 255]
  let top = Math.floor(value / 2 ** e);
  // Math.log2 rounds up just below large powers of two; step back instead of producing a negative sub.
  if (top < HALF) top = Math.floor(value / 2 ** --e);
  if (e > MAX_EXPONENT) return BUCKETS - 1;
  return EXACT + (e - 1) * HALF + (top - HALF);
}

/** [lowest, highest] value that lands in a bucket. */
function rangeOf(index: number): [number, number] {
  if (index < EXACT) return [index, index];
  const e = Math.floor((index - EXACT) / HALF) + 1;
  const sub = ((index - EXACT) % HALF) + HALF;
  const width = 2 ** e;
  return [sub * width, sub * width + width - 1];
}

export class Histogram {
  private counts = new Float64Array(BUCKETS);
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  sum = 0;

  record(value: number, times = 1): void {
    const v = value > 0 ? Math.round(value) : 0; // a clock step backwards must not corrupt the histogram
    this.counts[bucketOf(v)]! += times;
    this.count += times;
    this.sum += v * times;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The value below which a fraction `q` (0..1) of the recorded values lie; 0 when empty. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    if (q >= 1) return this.max;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const [lo, hi] = rangeOf(i);
        // Clamping to the exact extremes keeps p0/p100-ish answers exact and never outside what was seen.
        return Math.min(this.max, Math.max(this.min, (lo + hi) / 2));
      }
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  merge(other: Histogram | HistogramData): void {
    const data = other instanceof Histogram ? other.toData() : other;
    for (let i = 0; i + 1 < data.pairs.length; i += 2) {
      const index = data.pairs[i]!;
      const n = data.pairs[i + 1]!;
      if (index < 0 || index >= BUCKETS) continue; // from a newer layout: ignored rather than thrown
      this.counts[index]! += n;
      this.count += n;
    }
    if (data.pairs.length > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
      this.sum += data.sum;
    }
  }

  toData(): HistogramData {
    const pairs: number[] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) pairs.push(i, this.counts[i]!);
    return { pairs, min: this.count === 0 ? 0 : this.min, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = 0;
    this.sum = 0;
  }

  /** The percentiles every report shows, in the recorded unit. */
  summary(): LatencySummary {
    return {
      count: this.count,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.count === 0 ? 0 : this.max,
      mean: this.mean(),
    };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A summary recorded in µs, shown in ms with 0.01 ms resolution. */
export function toMs(s: LatencySummary): LatencySummary {
  const ms = (v: number) => Math.round(v / 10) / 100;
  return {
    count: s.count,
    p50: ms(s.p50),
    p90: ms(s.p90),
    p99: ms(s.p99),
    p999: ms(s.p999),
    max: ms(s.max),
    mean: ms(s.mean),
  };
}

/** Chart series of chosen percentiles (in ms; histograms record µs) from per-second histograms, seconds in order. */
export function percentileSeries(
  bySecond: Map<number, Histogram>,
  percentiles: [name: string, p: number][],
): { name: string; points: [number, number][] }[] {
  const seconds = [...bySecond].filter(([, h]) => h.count > 0).sort((a, b) => a[0] - b[0]);
  return percentiles.map(([name, p]) => ({
    name,
    points: seconds.map(([s, h]): [number, number] => [s, h.percentile(p) / 1000]),
  }));
}
