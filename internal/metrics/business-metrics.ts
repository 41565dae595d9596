import type { Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './buckets.js';
import { type CounterChild, type HistogramChild, LocalCounter, LocalHistogram } from './local-metrics.js';
import { RateWindow } from './rate-window.js';

// What business counts: messages in by ingress and whether they were sent, and how long a send takes
// (validate → filter → conversation → seq → store → dispatch).

export type Ingress = 'http' | 'batch' | 'ws';

export class BusinessMetrics {
  /** Messages sent, with their send duration, for the admin dashboard's messages/s and p99. */
  readonly window = new RateWindow();
  private readonly sent: Record<Ingress, CounterChild>;
  private readonly refused: Record<Ingress, CounterChild>;
  private readonly duration: Record<Ingress, HistogramChild>;

  constructor(registry: Registry) {
    const registers = [registry];
    const messages = new LocalCounter({
      name: 'courier_messages_in_total',
      help: 'Messages received by business, by ingress (http, batch, ws) and outcome (sent, refused).',
      labelNames: ['ingress', 'outcome'],
      registers,
    });
    const duration = new LocalHistogram({
      name: 'courier_send_duration_seconds',
      help: 'Time business takes to send one message, until it is stored and handed to a dispatcher.',
      labelNames: ['ingress'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    const ingresses = ['http', 'batch', 'ws'] as const;
    const each = <T>(make: (ingress: Ingress) => T) =>
      Object.fromEntries(ingresses.map((i) => [i, make(i)])) as Record<Ingress, T>;
    this.sent = each((i) => messages.labels(i, 'sent'));
    this.refused = each((i) => messages.labels(i, 'refused'));
    this.duration = each((i) => duration.labels(i));
  }

  /** Runs one send and counts it under `ingress`; its outcome and duration are recorded either way. */
  async send<T>(ingress: Ingress, send: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await send();
      const ms = performance.now() - started;
      this.sent[ingress].inc();
      this.duration[ingress].observe(ms / 1000);
      this.window.record(ms);
      return result;
    } catch (err) {
      this.refused[ingress].inc();
      throw err;
    }
  }
}
