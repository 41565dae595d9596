import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { CloseCode } from '../protocol/frames.js';
import type { PushItem } from '../rpc/push.js';
import { PendingAck, type Connection } from './connection.js';
import type { TimerWheel } from './timer-wheel.js';

// DESIGN §1 step 4: a pushed message waits for the client's ACK; without one within ackTimeout it is written
// again, up to ackRetries times, and then the connection is closed with 4008 so the client reconnects and
// syncs by seq. Pending ACKs live on the connection (a Map only while something is un-ACKed) and their
// deadlines on the gateway's one timer wheel.

export interface AckTrackerOptions {
  ackTimeoutMs: number;
  ackRetries: number;
  maxPendingAcks: number; // un-ACKed messages per connection before it is closed with 4008
}

export class AckTracker {
  constructor(
    private readonly options: AckTrackerOptions,
    private readonly wheel: TimerWheel<Connection>,
    private readonly close: (conn: Connection, code: number, reason: string) => void,
    private readonly metrics?: WorkerMetrics,
  ) {}

  /** False when the connection was closed instead (too many pending ACKs). */
  track(conn: Connection, item: PushItem): boolean {
    const pending = (conn.pending ??= new Map());
    if (pending.has(item.id)) return true; // a re-push of the same message: one deadline is enough
    if (pending.size >= this.options.maxPendingAcks) {
      // A client this far behind is not reading (or not acking): keeping its frames would grow the
      // worker's memory without bound. Closing with 4008 makes it reconnect and sync by seq instead.
      this.close(conn, CloseCode.ackRetriesExhausted, 'too many unacknowledged messages');
      return false;
    }
    const ack = new PendingAck(conn, item.id, item.frame);
    pending.set(item.id, ack);
    this.wheel.reschedule(ack, Date.now() + this.options.ackTimeoutMs);
    return true;
  }

  /** The client's `ack` frame; returns how many of the ids were pending. */
  settle(conn: Connection, ids: string[]): number {
    const pending = conn.pending;
    if (!pending) return 0;
    let settled = 0;
    for (const id of ids) {
      const ack = pending.get(id);
      if (!ack) continue;
      this.wheel.cancel(ack);
      pending.delete(id);
      this.metrics?.acked(ack.sentAt, Date.now());
      settled++;
    }
    if (pending.size === 0) conn.pending = null;
    return settled;
  }

  /** The deadline of one pending ACK passed: resend, or give up on the connection. */
  expired(conn: Connection, ack: PendingAck, now: number): void {
    this.metrics?.ackTimedOut();
    if (ack.resends >= this.options.ackRetries) {
      return this.close(conn, CloseCode.ackRetriesExhausted, 'ack timeout');
    }
    ack.resends++;
    if (conn.write(ack.frame)) this.metrics?.resent();
    this.wheel.reschedule(ack, now + this.options.ackTimeoutMs);
  }

  /** Drops every pending ACK of a connection that is gone. */
  forget(conn: Connection): void {
    if (conn.pending) for (const ack of conn.pending.values()) this.wheel.cancel(ack);
    conn.pending = null;
  }
}
