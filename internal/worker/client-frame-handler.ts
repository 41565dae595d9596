import type { RawData } from 'ws';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseClientFrame } from '../protocol/client-frames.js';
import { CloseCode, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import { rawText, type Connection } from './connection.js';
import type { Uplink } from './uplink.js';

// What a worker does with the frames a client sends (DESIGN §4): `ack` goes back to the gateway's ACK
// tracking, `send`, `sync` and `read` go to business through the Uplink, `ping` is answered here. Input is
// hostile by default: bad frames get an error frame, a flood of them or a binary frame closes with 4009,
// and no frame can throw out of the socket listener or leave an unhandled rejection.

const MAX_INVALID_FRAMES = 20; // parser refusals tolerated per connection before closing it with 4009

export interface FrameHooks {
  ack(conn: Connection, ids: string[]): void;
  /** Releases the connection and starts the close handshake. */
  close(conn: Connection, code: number, reason: string): void;
}

export class ClientFrameHandler {
  constructor(
    private readonly uplink: Uplink,
    private readonly log: Logger,
    private readonly hooks: FrameHooks,
  ) {}

  /** Called by the socket's message listener; never throws. */
  onData(conn: Connection, data: RawData, isBinary: boolean): void {
    try {
      if (isBinary) return this.hooks.close(conn, CloseCode.protocolError, 'binary frames are not supported');
      const parsed = parseClientFrame(rawText(data));
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
      // Every async path ends in this catch: a client frame must never surface as an unhandled rejection.
      this.onFrame(conn, parsed.frame).catch((err: unknown) =>
        this.log.error({ err, conn: conn.connId }, 'client frame handling failed'),
      );
    } catch (err) {
      // Only a bug gets here; thrown out of a ws listener it would take the whole process down.
      this.log.error({ err, conn: conn.connId }, 'client frame handling failed');
    }
  }

  private async onFrame(conn: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'ack':
        return this.hooks.ack(conn, frame.ids);
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
