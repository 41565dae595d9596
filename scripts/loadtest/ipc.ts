// Messages between the parent tool and its generator processes (child_process.fork with the 'advanced'
// serialization, so typed arrays of message keys cross as binary). Discriminated on `type` both ways.
import type { HistogramData } from './histogram.js';
import type { Plan } from './plan.js';

/** What to connect to and how to authenticate; the same for every generator of a run. */
export interface TargetSpec {
  kind: 'courier' | 'socketio';
  url: string; // courier: business base URL (tokens, gateway, messages); socketio: the peer's base URL
  jwtSecret: string; // mint tokens locally (HS256) when set …
  jwtIssuer: string;
  apiKey: string; // … else POST /v1/tokens with this key; also authorises HTTP sends when set
  gatewayEvery: number; // ask GET /v1/gateway again after this many connections
  connectTimeoutMs: number;
  spread: boolean; // loopback addresses are destinations, not bound sources (see --spread)
  role: 'customer' | 'agent';
  platform: string;
}

export interface ConnsJob {
  type: 'conns-job';
  proc: number;
  plan: Plan;
  target: TargetSpec;
  uidPrefix: string;
  ratePerSec: number; // opens per second for this generator
  maxPending: number; // connects in flight at once (bounds SYN/handshake bursts)
  deadlineMs: number; // epoch ms: the generator exits by itself after this, whatever happens
}

export interface PushJob {
  type: 'push-job';
  proc: number;
  procs: number;
  plan: Plan; // receiver devices: connection c is device c mod devices of receiver floor(c / devices)
  devices: number;
  receivers: number;
  senders: number; // sender uids (http/batch) or sender connections (ws), over all generators
  target: TargetSpec;
  /** Worker URLs to place connections on in turn; empty: ask the gateway (GatewayCursor). */
  workers: string[];
  uidPrefix: string;
  mode: 'http' | 'batch' | 'ws';
  batchSize: number;
  ratePerSec: number; // messages per second for this generator
  total: number; // messages this generator sends
  maxSockets: number; // HTTP keep-alive pool size
  maxInflight: number; // messages awaiting an answer; beyond it messages are counted as skipped
  connectRatePerSec: number;
  deadlineMs: number;
}

export type ParentMessage =
  | ConnsJob
  | PushJob
  | { type: 'go'; startMs: number } // intended time of the first open / send, shared by all generators
  | { type: 'collect' } // push: send the final accounting
  | { type: 'close' }; // close every connection and exit

export interface ConnsTick {
  kind: 'conns';
  opened: number;
  failed: Record<string, number>; // by reason: "http 429", "error ECONNREFUSED", "timeout"
  closed: Record<string, number>; // after open, by reason: "close 1012", "close 1006"
  open: number; // currently open
  openedBySecond: Record<number, number>; // by the second (since the run's start) in which each opened
  openLatency: HistogramData; // µs from intended open time to welcome
}

export interface PushTick {
  kind: 'push';
  sent: number;
  accepted: number;
  failed: Record<string, number>; // "http 503", "error ECONNRESET", "skipped: backlog", "ws error rate_limited"
  delivered: number; // unique message frames received (all devices)
  duplicates: number;
  unexpected: number; // frames whose content was not ours (or unparsable)
  dropped: Record<string, number>; // receiver connections lost during the run, by reason
  inflight: number;
  /** [sent, accepted, delivered] by the second in which each happened, so series do not depend on tick timing. */
  bySecond: Record<number, [number, number, number]>;
  latency: Record<number, HistogramData>; // per second of arrival (relative to the run's start), µs
}

export interface PushFinal {
  type: 'push-final';
  proc: number;
  acceptedKeys: Float64Array;
  acceptedTo: Uint32Array; // receiver index of each accepted key
  /** Unique keys received per receiver device; `opened` false = never connected, `dropped` = lost mid-run. */
  devices: { conn: number; keys: Float64Array; opened: boolean; dropped: boolean }[];
  maxLagMs: number;
  /** HTTP requests that waited at once for a free socket of the generator's pool, at most. */
  peakWaitingForSocket: number;
}

export type ChildMessage =
  | { type: 'prepared'; proc: number; note?: string } // tokens minted / receivers connected
  | { type: 'tick'; proc: number; sec: number; tick: ConnsTick | PushTick }
  | { type: 'settled'; proc: number } // conns: every open attempted and answered; push: every send answered
  | PushFinal
  | { type: 'fatal'; proc: number; message: string };

/** Message keys are unique per run: the generator in the high bits, its message index in the low 32. */
export function messageKey(proc: number, index: number): number {
  return proc * 2 ** 32 + index;
}

export function addCount(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Counts n events of one kind (0 sent, 1 accepted, 2 delivered) in a tick's per-second table. */
export function bump(tick: PushTick, sec: number, kind: 0 | 1 | 2, n: number): void {
  const row = (tick.bySecond[sec] ??= [0, 0, 0]);
  row[kind] += n;
}
