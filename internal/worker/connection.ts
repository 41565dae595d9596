import { WebSocket, type RawData } from 'ws';
import type { ServerFrame } from '../protocol/frames.js';
import type { Role } from '../protocol/message.js';
import type { RegistryEntry } from '../registry/registry.js';
import { TimerHandle } from './timer-wheel.js';

// The state a worker keeps per client connection. A worker holds hundreds of thousands of these, so the
// shape is flat and small: no per-connection closures or timers (the socket listeners are shared functions
// that find their Connection through `GatewaySocket.conn`, deadlines live on the gateway's timer wheel),
// and the pending-ACK map exists only while something is unacknowledged.

/** Kinds of timer-wheel entries (TimerHandle.kind). */
export const TimerKind = {
  /** The connection's one standing entry: read-idle check and token expiry, whichever is due first. */
  connection: 0,
  /** A pushed message waiting for its ACK (the handle is a PendingAck). */
  ack: 1,
} as const;

/** Registry bookkeeping: a connection is added in a batch, and removed only if its add was sent. */
export const RegState = { queued: 0, added: 1, released: 2 } as const;
type RegState = (typeof RegState)[keyof typeof RegState];

/** ws instantiates this class for every accepted socket (WebSocketServer option `WebSocket`). */
export class GatewaySocket extends WebSocket {
  conn: Connection | null = null;
}

/** A pushed frame awaiting its ACK; it is its own timer-wheel entry, so tracking costs one object. */
export class PendingAck extends TimerHandle<Connection> {
  /** Resends done so far. */
  resends = 0;
  /** When the frame was first written: the start of the ACK latency. */
  readonly sentAt = Date.now();

  constructor(
    conn: Connection,
    readonly id: string,
    readonly frame: string,
  ) {
    super(conn, TimerKind.ack);
  }
}

// Close reasons are limited to 123 bytes by RFC 6455; ws throws on longer ones.
const MAX_REASON_BYTES = 123;

export class Connection {
  /** Ms timestamp of the last frame, ping or pong read from the client. */
  lastRead: number;
  /** A WebSocket ping went out and nothing has been read since. */
  pinged = false;
  /** Frames refused by the parser; the connection is closed when this reaches the limit. */
  invalidFrames = 0;
  /** Frame-rate token bucket (see ClientFrameHandler); starts full, clamped to the burst on first use. */
  frameTokens = Number.POSITIVE_INFINITY;
  frameAt = 0;
  reg: RegState = RegState.queued;
  /** The connection's standing wheel entry (see TimerKind.connection). */
  readonly timer: TimerHandle<Connection>;
  /** message id → pending ACK, created on the first tracked push and dropped when empty. */
  pending: Map<string, PendingAck> | null = null;

  constructor(
    readonly ws: GatewaySocket,
    readonly uid: string,
    readonly connId: string,
    readonly role: Role,
    readonly platform: string,
    readonly channel: string,
    readonly ip: string,
    /** Token expiry, ms since the epoch; the connection is closed with 4001 when it passes. */
    readonly expiresAt: number,
    /** Connect time, ms since the epoch. */
    readonly since: number,
  ) {
    this.lastRead = since;
    this.timer = new TimerHandle<Connection>(this, TimerKind.connection);
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get released(): boolean {
    return this.reg === RegState.released;
  }

  /** Writes a pre-serialised text frame; false when the socket is no longer open. */
  write(text: string): boolean {
    if (!this.open) return false;
    this.ws.send(text);
    return true;
  }

  send(frame: ServerFrame): boolean {
    return this.write(JSON.stringify(frame));
  }

  /**
   * Starts the close handshake. Codes and reasons may come from the dispatcher (kick, ban), so an invalid
   * code or over-long reason must not throw out of the caller: the socket is cut instead.
   */
  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    try {
      this.ws.close(code, truncateUtf8(reason, MAX_REASON_BYTES));
    } catch {
      // ws refused the code (outside 1000–1014 / 3000–4999): nothing useful can be sent, so just cut it.
      this.ws.terminate();
    }
  }

  entry(worker: string): RegistryEntry {
    return {
      uid: this.uid,
      connId: this.connId,
      info: {
        worker,
        ip: this.ip,
        role: this.role,
        platform: this.platform,
        channel: this.channel,
        since: this.since,
      },
    };
  }
}

/** What the shared socket listeners call; implemented by the gateway. */
export interface SocketEvents {
  data(conn: Connection, data: RawData, isBinary: boolean): void;
  /** Anything read from the client (frames, pings, pongs) proves it is alive. */
  read(conn: Connection): void;
  closed(conn: Connection, code: number): void;
  error(conn: Connection, err: Error): void;
}

/**
 * One set of listener functions for all sockets of a gateway. ws calls them with `this` = the socket, which
 * leads to its Connection, so accepting a connection allocates no listener closures.
 */
export function socketListeners(events: SocketEvents) {
  return {
    message(this: WebSocket, data: RawData, isBinary: boolean): void {
      const conn = (this as GatewaySocket).conn;
      if (conn) events.data(conn, data, isBinary);
    },
    activity(this: WebSocket): void {
      const conn = (this as GatewaySocket).conn;
      if (conn) events.read(conn);
    },
    close(this: WebSocket, code: number): void {
      const conn = (this as GatewaySocket).conn;
      if (conn) events.closed(conn, code);
    },
    error(this: WebSocket, err: Error): void {
      const conn = (this as GatewaySocket).conn;
      if (conn) events.error(conn, err);
    },
  };
}

/** The text of a text frame (ws hands over a Buffer, or fragments, depending on binaryType). */
export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = text.slice(0, maxBytes);
  while (Buffer.byteLength(out) > maxBytes) out = out.slice(0, -1);
  return out;
}
