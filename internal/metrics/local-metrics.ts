import type { Metric, Registry } from 'prom-client';

// prom-client's Counter and Histogram resolve their labels on every inc() and observe(), even through a
// child bound once with labels(): each call builds a label object, validates it, hashes it and indexes a map
// (prom-client 15.1). On the message path that was a Histogram's observe as the largest JS function of the
// all-in-one's profile, and ~5 % of business's CPU. The families the message path writes are these instead:
// a bound child is a plain number, or an array of bucket counts, that the registry reads only when /metrics
// is scraped. Every write goes through a child, also on a family without labels (`labels()`). Names, types,
// exposition and reset are prom-client's: a labelled series appears once it was written (and goes on reset),
// an unlabelled one is there from the start.

export interface CounterChild {
  inc(by?: number): void;
}

export interface HistogramChild {
  observe(value: number): void;
}

interface FamilyOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers: Registry[];
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Child {
  /** Written since creation or reset: only such labelled children are exposed, as prom-client does. */
  seen: boolean;
  /** Back to zero and unseen. */
  reset(): void;
}

abstract class LocalFamily<L extends string, C extends Child> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  private readonly labelNames: readonly L[];
  private readonly children = new Map<string, { labels: Record<string, string>; child: C }>();

  constructor(options: FamilyOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  /**
   * The child of these label values, in the order of `labelNames` (none for a family without labels); bind
   * it once, outside the hot path.
   */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(
        `${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`,
      );
    }
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] as string]));
      entry = { labels, child: this.child() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** What prom-client's Registry reads on a scrape. */
  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: string } {
    if (this.labelNames.length === 0) this.labels();
    const values: Sample[] = [];
    for (const { labels, child } of this.children.values()) {
      if (child.seen || this.labelNames.length === 0) values.push(...this.samples(labels, child));
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const { child } of this.children.values()) child.reset();
  }

  protected abstract child(): C;
  protected abstract samples(labels: Record<string, string>, child: C): Sample[];
}

class CounterValue implements Child, CounterChild {
  seen = false;
  value = 0;

  inc(by = 1): void {
    // One comparison refuses NaN and negatives, as prom-client does: a counter only goes up.
    if (!(by >= 0)) throw new TypeError(`counter increment must be a non-negative number, got ${by}`);
    this.value += by;
    this.seen = true;
  }

  reset(): void {
    this.value = 0;
    this.seen = false;
  }
}

export class LocalCounter<L extends string = never> extends LocalFamily<L, CounterValue> {
  readonly type = 'counter';

  protected child(): CounterValue {
    return new CounterValue();
  }

  protected samples(labels: Record<string, string>, child: CounterValue): Sample[] {
    return [{ labels, value: child.value }];
  }
}

class HistogramValue implements Child, HistogramChild {
  seen = false;
  sum = 0;
  count = 0;
  readonly counts: Float64Array;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value must be a finite number, got ${value}`);
    const { bounds } = this;
    // Above the last bound only +Inf counts it, which is `count`.
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        (this.counts[i] as number)++;
        break;
      }
    }
    this.sum += value;
    this.count++;
    this.seen = true;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.seen = false;
  }
}

export class LocalHistogram<L extends string = never> extends LocalFamily<L, HistogramValue> {
  readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(options: FamilyOptions<L> & { buckets: readonly number[] }) {
    // Checked before super() registers the family, so a refused one leaves no trace on the registry.
    const sorted = options.buckets.every((b, i) => i === 0 || b > (options.buckets[i - 1] as number));
    if (!sorted) throw new TypeError(`${options.name}: buckets must be increasing`);
    super(options);
    this.buckets = [...options.buckets];
  }

  protected child(): HistogramValue {
    return new HistogramValue(this.buckets);
  }

  protected samples(labels: Record<string, string>, child: HistogramValue): Sample[] {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const out: Sample[] = this.buckets.map((le, i) => {
      cumulative += child.counts[i] as number;
      return { labels: { le, ...labels }, value: cumulative, metricName: bucket };
    });
    out.push(
      { labels: { le: '+Inf', ...labels }, value: child.count, metricName: bucket },
      { labels, value: child.sum, metricName: `${this.name}_sum` },
      { labels, value: child.count, metricName: `${this.name}_count` },
    );
    return out;
  }
}
