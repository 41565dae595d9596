import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './buckets.js';
import { type CounterChild, type HistogramChild, LocalCounter, LocalHistogram } from './local-metrics.js';
import type { SharedMetrics } from './metrics.js';
import { RateWindow } from './rate-window.js';

// What a dispatcher counts: items routed, what became of each connection they were routed to, and how long
// a dispatch call (registry lookup + pushes + worker answers) takes.

/**
 * Per connection a route named: delivered (a worker wrote the frame), missing (the worker no longer holds it:
 * a stale registry field), dead_worker (its worker left discovery), failed (the worker did not answer).
 */
export type DispatchOutcome = 'delivered' | 'missing' | 'dead_worker' | 'failed';

export class DispatcherMetrics {
  /** Items dispatched, with the duration of their dispatch call, for the admin dashboard. */
  readonly window = new RateWindow();
  private readonly items: Record<'message' | 'event' | 'close', CounterChild>;
  private readonly outcomes: Record<DispatchOutcome, CounterChild>;
  private readonly duration: HistogramChild;

  constructor(
    registry: Registry,
    readonly shared: SharedMetrics,
  ) {
    const registers = [registry];
    const items = new LocalCounter({
      name: 'courier_dispatch_items_total',
      help: 'Items received from business for dispatch, by kind (message, event, close).',
      labelNames: ['kind'],
      registers,
    });
    this.items = {
      message: items.labels('message'),
      event: items.labels('event'),
      close: items.labels('close'),
    };
    const outcomes = new LocalCounter({
      name: 'courier_dispatch_connections_total',
      help: 'Connections items were routed to, by outcome: delivered, missing, dead_worker, failed.',
      labelNames: ['outcome'],
      registers,
    });
    this.outcomes = {
      delivered: outcomes.labels('delivered'),
      missing: outcomes.labels('missing'),
      dead_worker: outcomes.labels('dead_worker'),
      failed: outcomes.labels('failed'),
    };
    this.duration = new LocalHistogram({
      name: 'courier_dispatch_duration_seconds',
      help: 'Duration of one dispatch call: registry lookup, pushes to workers and their answers.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }).labels();
  }

  received(kind: 'message' | 'event' | 'close'): void {
    this.items[kind].inc();
  }

  outcome(outcome: DispatchOutcome, connections: number): void {
    if (connections > 0) this.outcomes[outcome].inc(connections);
  }

  dispatched(items: number, startedAt: number): void {
    const ms = performance.now() - startedAt;
    this.duration.observe(ms / 1000);
    this.window.record(ms, items);
  }
}
