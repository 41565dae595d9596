import type { RequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import { readdir } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BusinessMetrics } from './business-metrics.js';
import { DispatcherMetrics } from './dispatcher-metrics.js';
import { type CounterChild, type HistogramChild, LocalCounter, LocalHistogram } from './local-metrics.js';
import { WorkerMetrics } from './worker-metrics.js';

// The Prometheus metrics of one process, on a Registry created by the process's wiring (cmd/*, the
// all-in-one) and handed to every component, never a global: tests start many nodes in one process. Each
// role's families are created the first time that role asks for them, so a dispatcher's /metrics lists only
// dispatcher and shared families, and the all-in-one's three roles share one registry without clashing.
// Names follow Prometheus conventions: `courier_` prefix, base units (seconds), `_total` counters. No label
// carries a uid, conversation or connection id: every label below has a small, fixed set of values.

/** Items per gRPC batch: one at low load, hundreds when a tick gathers many messages. */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

export type RateLimitScope = 'api_key' | 'user' | 'ws_frames' | 'ws_connects';
export type StreamSide = 'dispatcher' | 'worker';

/** Families more than one role writes (in the all-in-one they must exist once). */
export class SharedMetrics {
  readonly pushBatchItems: Record<'sent' | 'received', HistogramChild>;
  readonly rateLimited: Record<RateLimitScope, Counter.Internal>;
  private readonly streamSources: Record<StreamSide, (() => number)[]> = { dispatcher: [], worker: [] };

  constructor(registry: Registry) {
    const registers = [registry];
    const batch = new LocalHistogram({
      name: 'courier_push_batch_items',
      help: 'Items per dispatcher → worker gRPC batch, as sent by dispatchers and received by workers.',
      labelNames: ['direction'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.pushBatchItems = { sent: batch.labels('sent'), received: batch.labels('received') };
    const limited = new Counter({
      name: 'courier_rate_limited_total',
      help: 'Requests, frames and connection attempts refused by a rate limit, by limit.',
      labelNames: ['scope'],
      registers,
    });
    this.rateLimited = {
      api_key: limited.labels('api_key'),
      user: limited.labels('user'),
      ws_frames: limited.labels('ws_frames'),
      ws_connects: limited.labels('ws_connects'),
    };
    const sources = this.streamSources;
    new Gauge({
      name: 'courier_push_streams',
      help: 'Open dispatcher → worker gRPC push streams, as seen from each side.',
      labelNames: ['side'],
      registers,
      collect() {
        for (const side of ['dispatcher', 'worker'] as const) {
          this.set(
            { side },
            sources[side].reduce((sum, count) => sum + count(), 0),
          );
        }
      },
    });
  }

  /** Registers a reader of open streams (a dispatch service's links, a worker's push server). */
  countStreams(side: StreamSide, count: () => number): () => void {
    this.streamSources[side].push(count);
    return () => {
      const list = this.streamSources[side];
      const i = list.indexOf(count);
      if (i >= 0) list.splice(i, 1);
    };
  }
}

/**
 * How often the event-loop delay is sampled, ms: not prom-client's 10, because each sample wakes the event
 * loop, and 100 wakeups/s cost an idle process ~0.5 % of a core (measured), a quarter of the box for the 60
 * workers a million connections need here. A stall that delays a sample still shows in the histogram. Its
 * values are the time between samples, so they include this interval: a process that never waits reads 0.1 s.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * prom-client defaults left out: open files (kept, read off the event loop instead) and the active handle
 * and resource counts, which list every socket; `courier_ws_connections` counts what matters of those.
 */
const WALKS_EVERY_SOCKET = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

export class Metrics {
  readonly shared: SharedMetrics;
  private readonly started: Gauge<'role' | 'node'>;
  private workerMetrics: WorkerMetrics | undefined;
  private dispatcherMetrics: DispatcherMetrics | undefined;
  private businessMetrics: BusinessMetrics | undefined;
  private backendMetrics: BackendMetrics | undefined;

  /** Metrics on a registry of their own: for a node started without the process's (tests, tools). */
  static create(): Metrics {
    return new Metrics(new Registry());
  }

  constructor(readonly registry: Registry) {
    // Process defaults: CPU, memory, GC, and event-loop lag (nodejs_eventloop_lag_*_seconds).
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Less the ones whose every scrape walks every open socket on the event loop: a worker holding 16,000
    // connections stopped for 40–60 ms per scrape, 47 ms of CPU, two thirds of it in these (BENCHMARKS.md).
    for (const name of WALKS_EVERY_SOCKET) registry.removeSingleMetric(name);
    if (process.platform === 'linux') {
      new Gauge({
        name: 'process_open_fds',
        help: 'Number of open file descriptors.',
        registers: [registry],
        // Listed on libuv's thread pool, not with prom-client's readdirSync on the event loop.
        async collect() {
          const fds = await readdir('/proc/self/fd').catch(() => null);
          if (fds) this.set(fds.length - 1); // less the descriptor the listing itself had open
        },
      });
    }
    this.shared = new SharedMetrics(registry);
    this.started = new Gauge({
      name: 'courier_node_start_time_seconds',
      help: 'Start time of each courier node in this process, seconds since the epoch (uptime = time() - it).',
      labelNames: ['role', 'node'],
      registers: [registry],
    });
  }

  /** Records that a role started here (node ids are few and fixed for a process's life). */
  nodeStarted(role: 'business' | 'dispatcher' | 'worker', node: string, startedAt: number): void {
    this.started.set({ role, node }, startedAt / 1000);
  }

  get worker(): WorkerMetrics {
    return (this.workerMetrics ??= new WorkerMetrics(this.registry, this.shared));
  }

  get dispatcher(): DispatcherMetrics {
    return (this.dispatcherMetrics ??= new DispatcherMetrics(this.registry, this.shared));
  }

  get business(): BusinessMetrics {
    return (this.businessMetrics ??= new BusinessMetrics(this.registry));
  }

  get backend(): BackendMetrics {
    return (this.backendMetrics ??= new BackendMetrics(this.registry, this.shared));
  }

  /** Answers a scrape in Prometheus' text format. */
  async write(res: ServerResponse): Promise<void> {
    const body = await this.registry.metrics();
    res.statusCode = 200;
    res.setHeader('content-type', this.registry.contentType);
    res.end(body);
  }

  /** GET /metrics for an Express app. */
  readonly route: RequestHandler = (_req, res, next) => {
    this.write(res).catch(next);
  };
}

export type BanSource = 'manual' | 'auto';

/** Calls to backends (registry, store, discovery, …): latency and errors per operation, bans and refusals. */
export class BackendMetrics {
  private readonly duration: LocalHistogram<'backend' | 'op'>;
  private readonly errors: LocalCounter<'backend' | 'op'>;
  private readonly bans: Counter<'kind' | 'source'>;
  private readonly hits: Counter<'kind'>;

  constructor(
    registry: Registry,
    readonly shared: SharedMetrics,
  ) {
    const registers = [registry];
    this.duration = new LocalHistogram({
      name: 'courier_backend_call_duration_seconds',
      help: 'Duration of calls to backends (registry, store, discovery, sequencer, blacklist, rate limits).',
      labelNames: ['backend', 'op'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.errors = new LocalCounter({
      name: 'courier_backend_call_errors_total',
      help: 'Backend calls that failed (rejected), by backend and operation.',
      labelNames: ['backend', 'op'],
      registers,
    });
    this.bans = new Counter({
      name: 'courier_bans_total',
      help: 'Bans started: by hand through the API, or automatically for too many connection attempts.',
      labelNames: ['kind', 'source'],
      registers,
    });
    this.hits = new Counter({
      name: 'courier_blacklist_refusals_total',
      help: 'Connection attempts and requests refused because the uid or IP is banned.',
      labelNames: ['kind'],
      registers,
    });
  }

  /** The pre-bound children of one operation, for a wrapper built once per backend. */
  op(backend: string, op: string): { duration: HistogramChild; errors: CounterChild } {
    return { duration: this.duration.labels(backend, op), errors: this.errors.labels(backend, op) };
  }

  banned(kind: 'uid' | 'ip', source: BanSource): void {
    this.bans.inc({ kind, source });
  }

  refused(kind: 'uid' | 'ip'): void {
    this.hits.inc({ kind });
  }
}
