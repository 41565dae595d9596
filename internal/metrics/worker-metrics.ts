import { Counter, Gauge, type Registry } from 'prom-client';
import { CloseCode } from '../protocol/frames.js';
import { LATENCY_BUCKETS_SECONDS } from './buckets.js';
import { type CounterChild, type HistogramChild, LocalCounter, LocalHistogram } from './local-metrics.js';
import type { SharedMetrics } from './metrics.js';
import { RateWindow } from './rate-window.js';

// What a worker counts: connections, connects and disconnects, frames out, delivery and ACK latency, resends.
// Called per frame on the hot path, so every label child is bound once (per platform, per code) and reused.

/** Why a connection ended, from the worker's point of view. */
export type DisconnectReason = 'client' | 'server' | 'heartbeat' | 'shutdown' | 'error';

// Close codes the server sends (DESIGN §4) plus a normal close; any other code counts as "other", so a
// dispatcher passing odd codes cannot grow the label set.
const KNOWN_CLOSE_CODES = new Set<number>([1000, ...Object.values(CloseCode)]);
const MAX_PLATFORMS = 64; // platforms come from tokens: beyond this many, the rest share "other"

export class WorkerMetrics {
  /** Message frames written, for the admin dashboard's delivered/s and p99 (see RateWindow). */
  readonly window = new RateWindow();
  private readonly connections: Gauge<'platform'>;
  private readonly byPlatform = new Map<string, Gauge.Internal<'platform'>>();
  private readonly connects: Counter<'outcome'>;
  private readonly byOutcome = new Map<string, Counter.Internal>();
  private readonly disconnects: Record<DisconnectReason, Counter.Internal>;
  private readonly closes: Counter<'code'>;
  private readonly byCode = new Map<number, Counter.Internal>();
  private readonly out: Record<'message' | 'event', CounterChild>;
  private readonly deliveryLatency: HistogramChild;
  private readonly ackLatency: HistogramChild;
  private readonly ackTimeouts: Counter;
  private readonly resends: Counter;

  constructor(
    registry: Registry,
    readonly shared: SharedMetrics,
  ) {
    const registers = [registry];
    this.connections = new Gauge({
      name: 'courier_ws_connections',
      help: 'Open client WebSocket connections, by platform.',
      labelNames: ['platform'],
      registers,
    });
    this.connects = new Counter({
      name: 'courier_ws_connects_total',
      help: 'WebSocket connection attempts by outcome: accepted, or the error code of the refusal.',
      labelNames: ['outcome'],
      registers,
    });
    const disconnects = new Counter({
      name: 'courier_ws_disconnects_total',
      help: 'Closed connections by reason: client, server (a close code was sent), heartbeat, shutdown, error.',
      labelNames: ['reason'],
      registers,
    });
    this.disconnects = {
      client: disconnects.labels('client'),
      server: disconnects.labels('server'),
      heartbeat: disconnects.labels('heartbeat'),
      shutdown: disconnects.labels('shutdown'),
      error: disconnects.labels('error'),
    };
    this.closes = new Counter({
      name: 'courier_ws_closes_total',
      help: 'Close frames sent by the worker, by close code (4003 kicked or banned, 4008 ACK timeout, 1012 draining, …).',
      labelNames: ['code'],
      registers,
    });
    const out = new LocalCounter({
      name: 'courier_messages_out_total',
      help: 'Frames pushed to client connections: message (needs an ACK) or event; resends not included.',
      labelNames: ['kind'],
      registers,
    });
    this.out = { message: out.labels('message'), event: out.labels('event') };
    this.deliveryLatency = new LocalHistogram({
      name: 'courier_delivery_latency_seconds',
      help: 'From a message’s timestamp (set by business) to its frame written to the first connection.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }).labels();
    this.ackLatency = new LocalHistogram({
      name: 'courier_ack_latency_seconds',
      help: 'From a message frame written to a connection to its ACK.',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    }).labels();
    this.ackTimeouts = new Counter({
      name: 'courier_ack_timeouts_total',
      help: 'Pushed messages whose ACK did not come within ackTimeout (each leads to a resend or a 4008 close).',
      registers,
    });
    this.resends = new Counter({
      name: 'courier_message_resends_total',
      help: 'Message frames written again after an ACK timeout.',
      registers,
    });
  }

  connected(platform: string): void {
    this.connectOutcome('accepted').inc();
    this.platform(platform).inc();
  }

  disconnected(platform: string, reason: DisconnectReason): void {
    this.platform(platform).dec();
    this.disconnects[reason].inc();
  }

  /** A connection attempt refused before the upgrade, by the error code of its answer. */
  refused(code: string): void {
    this.connectOutcome(code).inc();
  }

  closed(code: number): void {
    let child = this.byCode.get(code);
    if (!child) {
      child = this.closes.labels(KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other');
      if (KNOWN_CLOSE_CODES.has(code)) this.byCode.set(code, child);
    }
    child.inc();
  }

  /** A pushed item written to `frames` connections; `ts` is the message's timestamp (ms) for `message`. */
  pushed(kind: 'message' | 'event', frames: number, ts: number | undefined): void {
    if (frames === 0) return;
    this.out[kind].inc(frames);
    if (kind !== 'message') return;
    const latencyMs = ts === undefined ? undefined : Math.max(0, Date.now() - ts);
    if (latencyMs !== undefined) this.deliveryLatency.observe(latencyMs / 1000);
    this.window.record(latencyMs, frames);
  }

  acked(sentAt: number, now: number): void {
    this.ackLatency.observe(Math.max(0, now - sentAt) / 1000);
  }

  ackTimedOut(): void {
    this.ackTimeouts.inc();
  }

  resent(): void {
    this.resends.inc();
  }

  private platform(platform: string): Gauge.Internal<'platform'> {
    let child = this.byPlatform.get(platform);
    if (child) return child;
    if (this.byPlatform.size >= MAX_PLATFORMS) return this.connections.labels('other');
    this.byPlatform.set(platform, (child = this.connections.labels(platform)));
    return child;
  }

  private connectOutcome(outcome: string): Counter.Internal {
    let child = this.byOutcome.get(outcome);
    if (!child) this.byOutcome.set(outcome, (child = this.connects.labels(outcome)));
    return child;
  }
}
