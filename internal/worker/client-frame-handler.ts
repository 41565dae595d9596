import type { RawData } from 'ws';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { takeToken, type RateRule } from '../ratelimit/rate-limiter.js';
import { BAD_FRAME, parseClientFrame, type ParseResult } from '../protocol/client-frames.js';
import { CloseCode, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import { jsonProblem } from '../protocol/json-guard.js';
import type { Connection } from './connection.js';
import type { Uplink } from './uplink.js';

// What a worker does with the frames a client sends (DESIGN §4): `ack` goes back to the gateway's ACK
// tracking, `send`, `sync` and `read` go to business through the Uplink, `ping` is answered here. Input is
// hostile by default: bad frames get an error frame, a flood of them or a binary frame closes with 4009,
// and no frame can throw out of the socket listener or leave an unhandled rejection. Frames per connection
// are capped by a token bucket: the first frame over it gets an error frame `rate_limited` and the
// connection is closed with 4009 (a client bug or abuse; 4008 would invite a reconnect-and-sync loop). An
// ACK that settles a pending message is free, so a client acking a burst of pushes one by one is never cut.

const MAX_INVALID_FRAMES = 20; // parser refusals tolerated per connection before closing it with 4009

export interface FrameHooks {
  /** Returns how many of the ids were pending. */
  ack(conn: Connection, ids: string[]): number;
  /** Releases the connection and starts the close handshake. */
  close(conn: Connection, code: number, reason: string): void;
  /** A frame went over the connection's frame-rate cap (counted by the worker's metrics). */
  limited?(conn: Connection): void;
}

export class ClientFrameHandler {
  constructor(
    private readonly uplink: Uplink,
    private readonly log: Logger,
    private readonly hooks: FrameHooks,
    /** Frames per second per connection; null = no cap. */
    private readonly frameRate: RateRule | null = null,
  ) {}

  /** Called by the socket's message listener; never throws. */
  onData(conn: Connection, data: RawData, isBinary: boolean): void {
    try {
      if (isBinary) return this.hooks.close(conn, CloseCode.protocolError, 'binary frames are not supported');
      const parsed = parse(data);
      // An ACK is applied before the cap is charged: one that settles a pending message costs nothing.
      const ack = parsed.ok && parsed.frame.type === 'ack' ? this.hooks.ack(conn, parsed.frame.ids) : -1;
      if (ack > 0) return;
      if (!this.takeFrame(conn)) {
        this.hooks.limited?.(conn);
        conn.send({ type: 'error', code: 'rate_limited', message: 'too many frames per second' });
        return this.hooks.close(conn, CloseCode.protocolError, 'frame rate exceeded');
      }
      if (!parsed.ok) {
        const { code, message, ref } = parsed;
        conn.send(
          ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref },
        );
        if (++conn.invalidFrames >= MAX_INVALID_FRAMES) {
          this.hooks.close(conn, CloseCode.protocolError, 'too many invalid frames');
        }
        return;
      }
      if (ack === 0) return; // an ACK of nothing pending (a duplicate): applied above, nothing to answer
      // Every async path ends in this catch: a client frame must never surface as an unhandled rejection.
      this.onFrame(conn, parsed.frame).catch((err: unknown) =>
        this.log.error({ err, conn: conn.connId }, 'client frame handling failed'),
      );
    } catch (err) {
      // Only a bug gets here; thrown out of a ws listener it would take the whole process down.
      this.log.error({ err, conn: conn.connId }, 'client frame handling failed');
    }
  }

  /** False when the connection has used up its frame budget. */
  private takeFrame(conn: Connection): boolean {
    if (!this.frameRate) return true;
    const bucket = { tokens: conn.frameTokens, at: conn.frameAt };
    const wait = takeToken(bucket, Date.now(), this.frameRate);
    conn.frameTokens = bucket.tokens;
    conn.frameAt = bucket.at;
    return wait === 0;
  }

  private async onFrame(conn: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ack':
        return; // applied in onData
      case 'ping':
        conn.send({ type: 'pong' });
        return;
      case 'send': {
        const { clientMsgId, message } = frame;
        try {
          const res = await this.uplink.send({ from: conn.uid, conn: conn.connId, clientMsgId, message });
          conn.send(
            res.ok
              ? { type: 'sent', clientMsgId, message: res.message }
              : { type: 'error', code: res.error.code, message: res.error.message, ref: clientMsgId },
          );
        } catch (err) {
          conn.send(this.uplinkError(err, clientMsgId));
        }
        return;
      }
      case 'sync': {
        const { conversation, after, limit } = frame;
        try {
          const page = await this.uplink.sync({ uid: conn.uid, conversation, after, limit });
          conn.send({ type: 'sync', conversation, messages: page.messages, hasMore: page.hasMore });
        } catch (err) {
          conn.send(this.uplinkError(err, conversation));
        }
        return;
      }
      case 'read': {
        // No reply on success: the peer's devices get a `read` frame from business; errors are reported.
        const { conversation, seq } = frame;
        try {
          await this.uplink.read({ uid: conn.uid, conversation, seq });
        } catch (err) {
          conn.send(this.uplinkError(err, conversation));
        }
        return;
      }
    }
  }

  /**
   * Business' own refusals (CourierError) pass through; anything else means business could not be reached,
   * reported as `unavailable` so the client retries (a `send` with the same clientMsgId is idempotent).
   */
  private uplinkError(err: unknown, ref: string): ServerFrame {
    if (err instanceof CourierError) return { type: 'error', code: err.code, message: err.message, ref };
    this.log.warn({ err: errorMessage(err), ref }, 'uplink call failed');
    return { type: 'error', code: 'unavailable', message: 'business is unavailable, retry', ref };
  }
}

/** A text frame's bytes, checked for what JSON.parse would let through (see json-guard.ts), then parsed. */
function parse(data: RawData): ParseResult {
  const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  const problem = jsonProblem(bytes);
  if (problem) return { ok: false, code: BAD_FRAME, message: `frame ${problem}` };
  return parseClientFrame(bytes.toString('utf8'));
}
