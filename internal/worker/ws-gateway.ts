import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type Server as WsServer } from 'ws';
import type { Claims, TokenVerifier } from '../auth/claims.js';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseClientFrame } from '../protocol/client-frames.js';
import { CloseCode, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import { connectionId } from '../protocol/message.js';
import type { Registry, RegistryEntry } from '../registry/registry.js';
import type { PushItem, PushItemResult } from '../rpc/push.js';
import { Connection, GatewaySocket, PendingAck, TimerKind, rawText, socketListeners } from './connection.js';
import { RegistryBatcher } from './registry-batcher.js';
import { TimerWheel, type TimerHandle } from './timer-wheel.js';
import type { Uplink } from './uplink.js';
import { clientIp, destroyOnError, readUpgradeTarget, refuse } from './ws-handshake.js';

// The worker's WebSocket side (DESIGN §1 step 4 and §4): authenticates clients before the upgrade, records
// their connections in the registry, writes the frames the dispatcher pushes, tracks ACKs and resends, and
// relays client frames to business through the Uplink. All deadlines of all connections live on one
// timer wheel.

export interface WsGatewayOptions {
  workerId: string; // value of `worker` in registry entries and the welcome frame
  path?: string; // upgrade path; other paths get 404 (default '/ws')
  ackTimeoutMs?: number; // resend after this long without an ACK (default 18_000)
  ackRetries?: number; // resends before closing with 4008 (default 3)
  heartbeatSeconds?: number; // ping after this much read silence, cut after as much again (default 30)
  maxFrameBytes?: number; // larger client frames close with 1009 (default 65_536)
  maxPendingAcks?: number; // un-ACKed messages per connection before it is closed as slow (default 1_000)
  tickMs?: number; // timer wheel resolution (default 100)
  refreshMs?: number; // period of the registry refresh pass (default 60_000; keep ≤ registry ttl / 3)
}

export interface AdmitContext {
  uid: string;
  ip: string;
}
export type AdmitResult = { ok: true } | { ok: false; status: 403 | 429; code: string; message: string };

export interface WsGatewayDeps {
  verifier: TokenVerifier;
  registry: Registry;
  uplink: Uplink;
  logger: Logger;
  /** Checked after the token and before the upgrade (blacklist, connection-rate limits). */
  admit?: (ctx: AdmitContext) => Promise<AdmitResult>;
}

const MAX_INVALID_FRAMES = 20; // parser refusals tolerated per connection before closing it with 4009
const MAX_CHANNEL_CHARS = 64;

export class WsGateway {
  private readonly workerId: string;
  private readonly path: string;
  private readonly ackTimeoutMs: number;
  private readonly ackRetries: number;
  private readonly heartbeatSeconds: number;
  private readonly heartbeatMs: number;
  private readonly maxPendingAcks: number;
  private readonly log: Logger;
  private readonly wss: WsServer<typeof GatewaySocket>;
  private readonly wheel: TimerWheel<Connection>;
  private readonly batcher: RegistryBatcher;
  private readonly conns = new Map<string, Connection>();
  private readonly listeners: ReturnType<typeof socketListeners>;
  private stopped: Promise<void> | null = null;

  constructor(
    options: WsGatewayOptions,
    private readonly deps: WsGatewayDeps,
  ) {
    const o = { ...DEFAULTS, ...options };
    if (!o.workerId) throw new RangeError('ws gateway: workerId is required');
    if (!o.path.startsWith('/'))
      throw new RangeError(`ws gateway: path must start with '/' (got "${o.path}")`);
    for (const key of ['ackTimeoutMs', 'heartbeatSeconds', 'maxFrameBytes', 'tickMs', 'refreshMs'] as const) {
      if (!(o[key] > 0)) throw new RangeError(`ws gateway: ${key} must be positive (got ${o[key]})`);
    }
    if (!Number.isInteger(o.ackRetries) || o.ackRetries < 0) {
      throw new RangeError(`ws gateway: ackRetries must be an integer ≥ 0 (got ${o.ackRetries})`);
    }
    if (!Number.isInteger(o.maxPendingAcks) || o.maxPendingAcks < 1) {
      throw new RangeError(`ws gateway: maxPendingAcks must be an integer ≥ 1 (got ${o.maxPendingAcks})`);
    }
    this.workerId = o.workerId;
    this.path = o.path;
    this.ackTimeoutMs = o.ackTimeoutMs;
    this.ackRetries = o.ackRetries;
    this.heartbeatSeconds = o.heartbeatSeconds;
    this.heartbeatMs = o.heartbeatSeconds * 1000;
    this.maxPendingAcks = o.maxPendingAcks;
    this.log = deps.logger.child({ component: 'ws-gateway' });
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: o.maxFrameBytes, // ws closes with 1009 itself
      clientTracking: false, // the gateway's own map tracks connections
      perMessageDeflate: false, // a zlib context per connection would cost far more than the connection
      WebSocket: GatewaySocket,
    });
    this.wheel = new TimerWheel<Connection>(
      { tickMs: o.tickMs, onError: (err) => this.log.error({ err }, 'timer callback failed') },
      (conn, handle, now) => this.onTimer(conn, handle, now),
    );
    this.batcher = new RegistryBatcher(deps.registry, o.workerId, o.refreshMs, this.log, () =>
      this.conns.values(),
    );
    this.listeners = socketListeners({
      data: (conn, data, isBinary) => this.onData(conn, data, isBinary),
      read: (conn) => this.markRead(conn),
      closed: (conn) => this.release(conn),
      error: (conn, err) => this.log.debug({ err: errorMessage(err), conn: conn.connId }, 'socket error'),
    });
  }

  /** Serves WebSocket upgrades on this HTTP server (every other request is left to the server). */
  attach(server: Server): void {
    server.on('upgrade', this.onUpgrade);
  }

  // ---- connect ----

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    this.upgrade(req, socket, head).catch((err: unknown) => {
      this.log.error({ err }, 'upgrade failed');
      refuse(socket, 500, { code: 'internal', message: 'internal error' });
    });
  };

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const target = readUpgradeTarget(req);
    if (!target || target.pathname !== this.path) {
      return refuse(socket, 404, { code: 'not_found', message: 'no WebSocket endpoint here' });
    }
    if (this.stopped) return refuse(socket, 503, { code: 'unavailable', message: 'worker is stopping' });
    if (!target.token) return refuse(socket, 401, { code: 'unauthorized', message: 'missing token' });
    if (target.channel.length > MAX_CHANNEL_CHARS) {
      const message = `channel holds at most ${MAX_CHANNEL_CHARS} characters`;
      return refuse(socket, 400, { code: 'invalid_request', message, field: 'channel' });
    }
    let claims: Claims;
    try {
      claims = await this.deps.verifier.verify(target.token);
    } catch (err) {
      if (err instanceof CourierError && err.status === 401) return refuse(socket, 401, err.toBody());
      this.log.warn({ err: errorMessage(err) }, 'token verifier failed');
      return refuse(socket, 401, { code: 'unauthorized', message: 'invalid token' });
    }
    if (claims.expiresAt <= Date.now()) {
      return refuse(socket, 401, { code: 'token_expired', message: 'token expired' });
    }
    const ip = clientIp(req);
    if (this.deps.admit) {
      let verdict: AdmitResult;
      try {
        verdict = await this.deps.admit({ uid: claims.uid, ip });
      } catch (err) {
        // Fail closed: when the blacklist cannot be read, a banned user must not get in; clients retry.
        this.log.warn({ err: errorMessage(err), uid: claims.uid }, 'admission check failed');
        return refuse(socket, 503, { code: 'unavailable', message: 'try again later' });
      }
      if (!verdict.ok)
        return refuse(socket, verdict.status, { code: verdict.code, message: verdict.message });
    }
    // The client may have gone away, or the gateway stopped, while we were verifying.
    if (socket.destroyed) return;
    if (this.stopped) return refuse(socket, 503, { code: 'unavailable', message: 'worker is stopping' });
    socket.off('error', destroyOnError);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, claims, ip, target.channel));
  }

  private accept(ws: GatewaySocket, claims: Claims, ip: string, channel: string): void {
    const now = Date.now();
    let connId: string;
    do connId = connectionId(claims.role, claims.platform, randomBytes(6).toString('base64url'));
    while (this.conns.has(connId));
    const conn = new Connection(
      ws,
      claims.uid,
      connId,
      claims.role,
      claims.platform,
      channel,
      ip,
      claims.expiresAt,
      now,
    );
    ws.conn = conn;
    ws.on('message', this.listeners.message);
    ws.on('pong', this.listeners.activity);
    ws.on('ping', this.listeners.activity);
    ws.on('close', this.listeners.close);
    ws.on('error', this.listeners.error);
    this.conns.set(connId, conn);
    this.batcher.add(conn);
    conn.send({
      type: 'welcome',
      connId,
      uid: claims.uid,
      heartbeat: this.heartbeatSeconds,
      worker: this.workerId,
    });
    this.wheel.reschedule(conn.timer, Math.min(now + this.heartbeatMs, claims.expiresAt));
  }

  // ---- push ----

  deliver(item: PushItem): PushItemResult {
    const missing: string[] = [];
    let delivered = 0;
    for (const connId of item.conns) {
      const conn = this.conns.get(connId);
      if (!conn || conn.uid !== item.uid || !conn.open) {
        missing.push(connId);
        continue;
      }
      if (item.close) {
        // Kick or ban: counted as delivered, the close is what was handed to the connection.
        this.closeConn(conn, item.close.code, item.close.reason);
        delivered++;
        continue;
      }
      if (item.ack && !this.trackAck(conn, item)) continue;
      if (conn.write(item.frame)) delivered++;
    }
    return { delivered, missing };
  }

  deliverBatch(items: PushItem[]): PushItemResult[] {
    return items.map((item) => this.deliver(item));
  }

  /** False when the connection was closed instead (too many pending ACKs). */
  private trackAck(conn: Connection, item: PushItem): boolean {
    const pending = (conn.pending ??= new Map());
    if (pending.has(item.id)) return true; // a re-push of the same message: one deadline is enough
    if (pending.size >= this.maxPendingAcks) {
      // A client this far behind is not reading (or not acking): keeping its frames would grow the
      // worker's memory without bound. Closing with 4008 makes it reconnect and sync by seq instead.
      this.closeConn(conn, CloseCode.ackRetriesExhausted, 'too many unacknowledged messages');
      return false;
    }
    const ack = new PendingAck(conn, item.id, item.frame);
    pending.set(item.id, ack);
    this.wheel.reschedule(ack, Date.now() + this.ackTimeoutMs);
    return true;
  }

  private onAck(conn: Connection, ids: string[]): void {
    const pending = conn.pending;
    if (!pending) return;
    for (const id of ids) {
      const ack = pending.get(id);
      if (!ack) continue;
      this.wheel.cancel(ack);
      pending.delete(id);
    }
    if (pending.size === 0) conn.pending = null;
  }

  // ---- timers ----

  private onTimer(conn: Connection, handle: TimerHandle<Connection>, now: number): void {
    if (handle.kind === TimerKind.ack) return this.onAckTimeout(conn, handle as PendingAck, now);
    if (now >= conn.expiresAt) return this.closeConn(conn, CloseCode.tokenExpired, 'token expired');
    // Read-idle check, rescheduled lazily: a talking connection costs one reschedule per heartbeat period.
    // `pinged` is cleared by every read, so a ping that was answered never counts as silence.
    let next: number;
    if (conn.lastRead + this.heartbeatMs > now) {
      next = conn.lastRead + this.heartbeatMs;
    } else if (!conn.pinged) {
      conn.pinged = true;
      conn.ws.ping();
      next = now + this.heartbeatMs;
    } else {
      this.log.debug({ conn: conn.connId }, 'no answer to heartbeat, terminating');
      this.release(conn);
      conn.ws.terminate();
      return;
    }
    this.wheel.reschedule(conn.timer, Math.min(next, conn.expiresAt));
  }

  private onAckTimeout(conn: Connection, ack: PendingAck, now: number): void {
    if (ack.resends >= this.ackRetries) {
      return this.closeConn(conn, CloseCode.ackRetriesExhausted, 'ack timeout');
    }
    ack.resends++;
    conn.write(ack.frame);
    this.wheel.reschedule(ack, now + this.ackTimeoutMs);
  }

  // ---- client frames ----

  private markRead(conn: Connection): void {
    conn.lastRead = Date.now();
    conn.pinged = false;
  }

  private onData(conn: Connection, data: RawData, isBinary: boolean): void {
    this.markRead(conn);
    if (isBinary) return this.closeConn(conn, CloseCode.protocolError, 'binary frames are not supported');
    const parsed = parseClientFrame(rawText(data));
    if (!parsed.ok) {
      const { code, message, ref } = parsed;
      conn.send(ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
      if (++conn.invalidFrames >= MAX_INVALID_FRAMES) {
        this.closeConn(conn, CloseCode.protocolError, 'too many invalid frames');
      }
      return;
    }
    // Every async path ends in this catch: a client frame must never surface as an unhandled rejection.
    this.onFrame(conn, parsed.frame).catch((err: unknown) =>
      this.log.error({ err, conn: conn.connId }, 'client frame handling failed'),
    );
  }

  private async onFrame(conn: Connection, frame: ClientFrame): Promise<void> {
    const { uplink } = this.deps;
    switch (frame.type) {
      case 'ack':
        return this.onAck(conn, frame.ids);
      case 'ping':
        conn.send({ type: 'pong' });
        return;
      case 'send': {
        const { clientMsgId, message } = frame;
        try {
          const res = await uplink.send({ from: conn.uid, conn: conn.connId, clientMsgId, message });
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
          const page = await uplink.sync({ uid: conn.uid, conversation, after, limit });
          conn.send({ type: 'sync', conversation, messages: page.messages, hasMore: page.hasMore });
        } catch (err) {
          conn.send(this.uplinkError(err, conversation));
        }
        return;
      }
      case 'read': {
        const { conversation, seq } = frame;
        try {
          await uplink.read({ uid: conn.uid, conversation, seq });
        } catch (err) {
          conn.send(this.uplinkError(err, conversation));
        }
        return;
      }
    }
  }

  /** Business' own refusals pass through; anything else means business could not be reached. */
  private uplinkError(err: unknown, ref: string): ServerFrame {
    if (err instanceof CourierError) return { type: 'error', code: err.code, message: err.message, ref };
    this.log.warn({ err: errorMessage(err), ref }, 'uplink call failed');
    return { type: 'error', code: 'unavailable', message: 'business is unavailable, retry', ref };
  }

  // ---- close ----

  private closeConn(conn: Connection, code: number, reason: string): void {
    this.release(conn);
    conn.close(code, reason);
  }

  /** Forgets a connection: runs once, on the first of server-side close or the socket's close event. */
  private release(conn: Connection): void {
    if (conn.released) return;
    if (this.conns.get(conn.connId) === conn) this.conns.delete(conn.connId);
    this.wheel.cancel(conn.timer);
    if (conn.pending) for (const ack of conn.pending.values()) this.wheel.cancel(ack);
    conn.pending = null;
    this.batcher.remove(conn); // sets RegState.released
  }

  // ---- state for the worker (gRPC stream, draining, discovery) ----

  connectionCount(): number {
    return this.conns.size;
  }

  uids(): string[] {
    const out = new Set<string>();
    for (const conn of this.conns.values()) out.add(conn.uid);
    return [...out];
  }

  entries(): RegistryEntry[] {
    return Array.from(this.conns.values(), (conn) => conn.entry(this.workerId));
  }

  /** Closes every held connection (1012 when draining); returns how many. */
  closeAll(code: number, reason: string): number {
    const all = [...this.conns.values()];
    for (const conn of all) this.closeConn(conn, code, reason);
    return all.length;
  }

  /** One registry refresh pass now (the periodic pass runs every refreshMs). */
  refreshRegistry(): Promise<void> {
    return this.batcher.refreshAll();
  }

  /**
   * Stops timers and upgrades, cuts connections still open, and resolves when their registry removals are
   * written (so the caller can close the registry next). Idempotent.
   */
  stop(): Promise<void> {
    this.stopped ??= this.runStop();
    return this.stopped;
  }

  private async runStop(): Promise<void> {
    // The upgrade listener stays: later upgrades get a 503 instead of a dropped socket.
    for (const conn of [...this.conns.values()]) {
      this.release(conn);
      conn.ws.terminate();
    }
    this.wheel.stop();
    await this.batcher.stop();
  }
}

const DEFAULTS = {
  path: '/ws',
  ackTimeoutMs: 18_000,
  ackRetries: 3,
  heartbeatSeconds: 30,
  maxFrameBytes: 65_536,
  maxPendingAcks: 1_000,
  tickMs: 100,
  refreshMs: 60_000,
};
