// Garbage-collection pauses and event-loop delay of each courier server process, second by second, read from
// the process's own `GET /metrics` (prom-client's default metrics). /proc tells how much CPU a process used in
// a second but not why it stopped answering for 200 ms of it; a major collection or a long turn of its event
// loop does, and only the process itself sees those. `push --server-gc` reads them once a second, aligned
// with its other per-second series, so a slow second of a run can be put on the process that paused.
import { Etcd3 } from 'etcd3';
import { EVENT_LOOP_SAMPLE_MS } from '../../internal/metrics/metrics.js';
import { recordPids, urlOf } from './memory.js';

/** A server process's metrics endpoint and the name it has in the report. */
export interface MetricsTarget {
  name: string;
  url: string;
}

export interface GcReading {
  /** nodejs_gc_duration_seconds_sum over every kind of collection: seconds paused since the process began. */
  gcSeconds: number;
  /** Of which major (mark-compact) collections. */
  majorSeconds: number;
  /**
   * The longest event-loop delay since the previous scrape, or null: nodejs_eventloop_lag_max_seconds less
   * the sampling interval it includes (EVENT_LOOP_SAMPLE_MS).
   */
  lagMaxSeconds: number | null;
}

/**
 * The GC and event-loop figures of a Prometheus text exposition, or null when it has neither (not a Node
 * process's metrics). A process that has not collected yet has no GC sums: it reads 0.
 */
export function parseGcReading(text: string): GcReading | null {
  let gcSeconds = 0;
  let majorSeconds = 0;
  let sums = 0;
  let lagMaxSeconds: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('nodejs_gc_duration_seconds_sum{')) {
      const match = /kind="([^"]*)"[^}]*\}\s+(\S+)/.exec(line);
      const value = Number(match?.[2]);
      if (!match || !Number.isFinite(value)) continue;
      gcSeconds += value;
      if (match[1] === 'major') majorSeconds += value;
      sums++;
    } else if (line.startsWith('nodejs_eventloop_lag_max_seconds ')) {
      const value = Number(line.slice(line.indexOf(' ') + 1).trim());
      if (Number.isFinite(value)) lagMaxSeconds = Math.max(0, value - EVENT_LOOP_SAMPLE_MS / 1000);
    }
  }
  return sums > 0 || lagMaxSeconds !== null ? { gcSeconds, majorSeconds, lagMaxSeconds } : null;
}

/** Per target, in the order given: what the process did in second k (between the readings k and k + 1). */
export interface GcSeries {
  name: string;
  /** ms paused by collections in each second. */
  gcMs: [number, number][];
  /** ms paused by major collections in each second. */
  majorMs: [number, number][];
  /** The longest event-loop delay of each second, ms. */
  lagMaxMs: [number, number][];
}

/**
 * Reads every target's /metrics at start + k × periodMs for k = 0, 1, 2, … until stopped, all targets at
 * once. A reading that fails or takes longer than the period is missing (null), and the seconds on either
 * side of it are left out of the series rather than guessed; a process restarted mid-run (its sums went
 * down) likewise.
 */
export class GcRecorder {
  /** readings[k][i]: target i at tick k. */
  readonly readings: (GcReading | null)[][] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private pending = new Set<Promise<void>>();

  constructor(
    readonly targets: MetricsTarget[],
    private readonly startMs: number,
    private readonly now: () => number,
    private readonly periodMs = 1000,
  ) {}

  start(): void {
    this.schedule(0);
  }

  private schedule(tick: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        const reading = this.readAll(tick);
        this.pending.add(reading);
        void reading.finally(() => this.pending.delete(reading));
        this.schedule(tick + 1);
      },
      Math.max(0, this.startMs + tick * this.periodMs - this.now()),
    );
  }

  private async readAll(tick: number): Promise<void> {
    this.readings[tick] = await Promise.all(this.targets.map((t) => readGc(t.url, this.periodMs)));
  }

  /** Stops reading; resolves once the readings already asked for have come back. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.all([...this.pending]);
  }

  series(): GcSeries[] {
    return this.targets.map((target, i) => {
      const out: GcSeries = { name: target.name, gcMs: [], majorMs: [], lagMaxMs: [] };
      for (let k = 0; k + 1 < this.readings.length; k++) {
        const a = this.readings[k]?.[i];
        const b = this.readings[k + 1]?.[i];
        if (!a || !b || b.gcSeconds < a.gcSeconds) continue;
        out.gcMs.push([k, ms(b.gcSeconds - a.gcSeconds)]);
        out.majorMs.push([k, ms(b.majorSeconds - a.majorSeconds)]);
        if (b.lagMaxSeconds !== null) out.lagMaxMs.push([k, ms(b.lagMaxSeconds)]);
      }
      return out;
    });
  }
}

const ms = (seconds: number) => Math.round(seconds * 1e4) / 10;

async function readGc(url: string, timeoutMs: number): Promise<GcReading | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return parseGcReading(await res.text());
  } catch {
    return null; // down, slow or not a courier process: that second is missing from its series
  }
}

/**
 * The metrics endpoints of a cluster from its etcd keys: every worker serves /metrics on its WebSocket port,
 * business nodes and dispatchers on their HTTP port. Named `worker <id>` and so on. Nodes that share a process
 * (a business node and its embedded dispatcher, each on a port of its own) are one target, read once: found
 * by the pid serving each port (`pidOf`), else by the address.
 */
export async function metricsTargetsFromEtcd(
  hosts: string[],
  prefix = '/courier/',
  pidOf: (record: string, field: 'http' | 'ws') => number | null = recordPids(),
): Promise<MetricsTarget[]> {
  const client = new Etcd3({ hosts });
  try {
    const byProcess = new Map<string, MetricsTarget>();
    for (const [dir, role, field] of [
      ['business/', 'business', 'http'],
      ['dispatchers/', 'dispatcher', 'http'],
      ['workers/', 'worker', 'ws'],
    ] as const) {
      const values = await client.getAll().prefix(`${prefix}${dir}`).strings();
      for (const key of Object.keys(values).sort()) {
        const record = values[key] as string;
        const url = metricsUrl(record, field);
        if (!url) continue;
        const name = `${role} ${key.slice(`${prefix}${dir}`.length)}`;
        const processKey = String(pidOf(record, field) ?? url);
        const same = byProcess.get(processKey);
        byProcess.set(processKey, same ? { ...same, name: `${same.name} + ${name}` } : { name, url });
      }
    }
    return [...byProcess.values()];
  } finally {
    client.close();
  }
}

/** `http://host:port/metrics` of a node record's `http` or `ws` URL, or null when it has none. */
export function metricsUrl(record: string, field: 'http' | 'ws'): string | null {
  try {
    return `http://${new URL(urlOf(record, field)).host}/metrics`;
  } catch {
    return null; // no such field, or not a URL
  }
}
