import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type Server as WsServer } from 'ws';
import type { Claims, TokenVerifier } from '../auth/claims.js';
import type { ClientIp } from '../blacklist/client-ip.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { DisconnectReason, WorkerMetrics } from '../metrics/worker-metrics.js';
import { CloseCode, type ServerFrame } from '../protocol/frames.js';
import { connectionId } from '../protocol/message.js';
import type { Registry, RegistryEntry } from '../registry/registry.js';
import type { PushItem, PushItemResult } from '../rpc/push.js';
import { AckTracker } from './ack-tracker.js';
import { ClientFrameHandler } from './client-frame-handler.js';
import { Connection, GatewaySocket, PendingAck, TimerKind, socketListeners } from './connection.js';
import { RegistryBatcher } from './registry-batcher.js';
import { TimerWheel, type TimerHandle } from './timer-wheel.js';
import type { Uplink } from './uplink.js';
import { resolveGatewayOptions, type WsGatewayOptions } from './ws-gateway-options.js';
import {
  admitUpgrade,
  destroyOnError,
  refuse,
  type Admit,
  type Admitted,
  type Refusal,
} from './ws-handshake.js';

export type { Admit, AdmitContext, AdmitResult } from './ws-handshake.js';
export type { WsGatewayOptions } from './ws-gateway-options.js';

// The worker's WebSocket side (DESIGN §1 step 4 and §4): authenticates clients before the upgrade, records
// their connections in the registry, writes the frames the dispatcher pushes, tracks ACKs and resends, and
// relays client frames to business through the Uplink. All deadlines of all connections live on one
// timer wheel.

export interface WsGatewayDeps {
  verifier: TokenVerifier;
  registry: Registry;
  uplink: Uplink;
  logger: Logger;
  /** Checked after the token and before the upgrade (blacklist, connection-rate limits). */
  admit?: Admit;
  /** Client address resolution behind trusted proxies; the socket's peer when absent. */
  clientIp?: ClientIp;
  metrics?: WorkerMetrics;
}

export class WsGateway {
  private readonly workerId: string;
  private readonly path: string;
  private readonly heartbeatSeconds: number;
  private readonly heartbeatMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly log: Logger;
  private readonly wss: WsServer<typeof GatewaySocket>;
  private readonly wheel: TimerWheel<Connection>;
  private readonly acks: AckTracker;
  private readonly batcher: RegistryBatcher;
  private readonly conns = new Map<string, Connection>();
  /** Sockets the gateway closed whose close handshake has not finished (ws cuts them after 30 s). */
  private readonly closing = new Set<GatewaySocket>();
  private readonly listeners: ReturnType<typeof socketListeners>;
  private readonly frames: ClientFrameHandler;
  /** Upgrades admitted past the capacity check and not yet held or refused: each already holds a file. */
  private handshaking = 0;
  private stopped: Promise<void> | null = null;
  private draining = false; // set by drain(): upgrades get 503 from then on, so no client lands here

  constructor(
    options: WsGatewayOptions,
    private readonly deps: WsGatewayDeps,
  ) {
    const o = resolveGatewayOptions(options);
    this.workerId = o.workerId;
    this.path = o.path;
    this.heartbeatSeconds = o.heartbeatSeconds;
    this.heartbeatMs = o.heartbeatSeconds * 1000;
    this.handshakeTimeoutMs = o.handshakeTimeoutMs;
    this.maxConnections = o.maxConnections;
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
    this.acks = new AckTracker(
      o,
      this.wheel,
      (conn, code, reason) => this.closeConn(conn, code, reason),
      deps.metrics,
    );
    this.batcher = new RegistryBatcher(deps.registry, o.workerId, o.refreshMs, this.log, this.conns);
    const frameRate =
      o.maxFramesPerSecond > 0 ? { perSecond: o.maxFramesPerSecond, burst: o.frameBurst } : null;
    this.frames = new ClientFrameHandler(
      deps.uplink,
      this.log,
      {
        ack: (conn, ids) => this.acks.settle(conn, ids),
        close: (conn, code, reason) => this.closeConn(conn, code, reason),
        limited: () => deps.metrics?.shared.rateLimited.ws_frames.inc(),
      },
      frameRate,
    );
    this.listeners = socketListeners({
      data: (conn, data, isBinary) => {
        this.markRead(conn);
        this.frames.onData(conn, data, isBinary);
      },
      read: (conn) => this.markRead(conn),
      closed: (conn) => {
        this.release(conn, 'client');
        this.closing.delete(conn.ws);
      },
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
    const unavailable = { status: 503, body: { code: 'unavailable', message: 'worker is stopping' } };
    const { verifier, admit, clientIp, metrics } = this.deps;
    const refused = (refusal: Refusal) => {
      metrics?.refused(refusal.body.code); // counted by the code of the answer: unauthorized, blacklisted, …
      refuse(socket, refusal);
    };
    if (this.stopped || this.draining) return refused(unavailable);
    // Checked before the token, so a full worker spends nothing on the client; handshakes still being
    // verified count too, so a burst of connects cannot overshoot the cap while their tokens are checked.
    if (this.connectionCount() + this.handshaking >= this.maxConnections) {
      const message = `worker is full (${this.maxConnections} connections)`;
      return refused({ status: 503, body: { code: 'unavailable', message } });
    }
    this.handshaking++;
    let verifying = true;
    const verified = () => {
      if (verifying) this.handshaking--;
      verifying = false;
    };
    const timeoutMs = this.handshakeTimeoutMs;
    admitUpgrade(req, { path: this.path, verifier, admit, log: this.log, clientIp, timeoutMs })
      .then((verdict) => {
        // handleUpgrade below holds the connection synchronously (no verifyClient), so from here on it is
        // counted in conns, or it was refused.
        verified();
        if (!('claims' in verdict)) return refused(verdict);
        // The client may have gone away, or the gateway stopped, while the token was being verified.
        if (socket.destroyed) return;
        if (this.stopped || this.draining) return refused(unavailable);
        socket.off('error', destroyOnError);
        this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, verdict));
      })
      .catch((err: unknown) => {
        this.log.error({ err }, 'upgrade failed');
        verified();
        refuse(socket, { status: 500, body: { code: 'internal', message: 'internal error' } });
      });
  };

  private accept(ws: GatewaySocket, { claims, ip, channel }: Admitted): void {
    try {
      this.hold(ws, claims, ip, channel);
    } catch (err) {
      // The socket speaks WebSocket now, so an HTTP error answer is no longer possible.
      this.log.error({ err, uid: claims.uid }, 'accepting a connection failed');
      if (ws.conn) this.release(ws.conn, 'error');
      ws.terminate();
    }
  }

  private hold(ws: GatewaySocket, claims: Claims, ip: string, channel: string): void {
    const now = Date.now();
    let connId: string;
    do connId = connectionId(claims.role, claims.platform, randomBytes(6).toString('base64url'));
    while (this.conns.has(connId));
    const { uid, role, platform, expiresAt } = claims;
    const conn = new Connection(ws, uid, connId, role, platform, channel, ip, expiresAt, now);
    ws.conn = conn;
    ws.on('message', this.listeners.message);
    ws.on('pong', this.listeners.activity);
    ws.on('ping', this.listeners.activity);
    ws.on('close', this.listeners.close);
    ws.on('error', this.listeners.error);
    this.conns.set(connId, conn);
    this.deps.metrics?.connected(platform);
    // The welcome is the client's cue to sync by seq, so it goes out only once the registry routes to this
    // connection: a message stored after the sync read its history is then pushed here, not to nobody.
    const welcome: ServerFrame = {
      type: 'welcome',
      connId,
      uid,
      heartbeat: this.heartbeatSeconds,
      worker: this.workerId,
    };
    void this.batcher.add(conn).then(() => {
      if (!conn.released) conn.send(welcome);
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
      if (item.ack && !this.acks.track(conn, item)) continue;
      if (conn.write(item.frame)) delivered++;
    }
    if (!item.close) this.deps.metrics?.pushed(item.ack ? 'message' : 'event', delivered, item.ts);
    if (this.log.isLevelEnabled('debug')) {
      const { requestId, id, uid } = item;
      this.log.debug({ requestId, id, uid, delivered, missing: missing.length }, 'pushed to connections');
    }
    return { delivered, missing };
  }

  deliverBatch(items: PushItem[]): PushItemResult[] {
    return items.map((item) => this.deliver(item));
  }

  // ---- timers ----

  private onTimer(conn: Connection, handle: TimerHandle<Connection>, now: number): void {
    if (handle.kind === TimerKind.ack) return this.acks.expired(conn, handle as PendingAck, now);
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
      this.release(conn, 'heartbeat');
      conn.ws.terminate();
      return;
    }
    this.wheel.reschedule(conn.timer, Math.min(next, conn.expiresAt));
  }

  /** Anything read from the client (frame, ping, pong) proves it alive and answers an outstanding ping. */
  private markRead(conn: Connection): void {
    conn.lastRead = Date.now();
    conn.pinged = false;
  }

  // ---- close ----

  private closeConn(conn: Connection, code: number, reason: string): void {
    if (!conn.released) this.deps.metrics?.closed(code);
    this.release(conn, 'server');
    conn.close(code, reason);
    if (conn.ws.readyState !== GatewaySocket.CLOSED) this.closing.add(conn.ws);
  }

  /** Forgets a connection: runs once, on the first of server-side close or the socket's close event. */
  private release(conn: Connection, reason: DisconnectReason): void {
    if (conn.released) return;
    if (this.conns.get(conn.connId) === conn) {
      this.conns.delete(conn.connId);
      this.deps.metrics?.disconnected(conn.platform, reason);
    }
    this.wheel.cancel(conn.timer);
    this.acks.forget(conn);
    this.batcher.remove(conn); // sets RegState.released
  }

  // ---- state for the worker (gRPC stream, draining, discovery) ----

  /**
   * Sockets still open: held connections plus those closed by the gateway (closeAll, kicks) whose close
   * handshake is in progress, so a draining worker can wait for this to reach 0. Only held connections
   * appear in uids(), entries() and the registry.
   */
  connectionCount(): number {
    return this.conns.size + this.closing.size;
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

  /**
   * Refuses every later upgrade (503) and closes every held connection with 1012: its client reconnects
   * through /v1/gateway to another worker and syncs by seq, so un-ACKed messages (durable in the store) are
   * not lost. Pushes that arrive from now on find no connection and are answered as missing. Returns how
   * many were closed.
   */
  drain(): number {
    this.draining = true;
    return this.closeAll(CloseCode.draining, 'server draining');
  }

  /**
   * Closes every connection held now with 1012, spread evenly over `spreadMs`: pushes meant for them may
   * have gone to nobody while the registry lacked their entries, and a client cannot notice a message it
   * never got until a later one in the same conversation. Reconnecting is how it catches up (sync by seq,
   * DESIGN §1.4); the spread keeps a registry loss from bringing every client back in the same instant.
   * Connections made after this call are routable from their first frame and are left alone.
   */
  resync(spreadMs: number): number {
    const all = [...this.conns.values()];
    const slots = Math.max(1, Math.ceil(spreadMs / RESYNC_SLOT_MS));
    for (let slot = 0; slot < slots; slot++) {
      const part = all.filter((_, i) => i % slots === slot);
      if (part.length === 0) continue;
      const timer = setTimeout(() => {
        for (const conn of part) {
          if (!conn.released) this.closeConn(conn, CloseCode.draining, 'reconnect and sync');
        }
      }, slot * RESYNC_SLOT_MS);
      timer.unref();
    }
    return all.length;
  }

  /** One registry refresh pass now, unpaced (the periodic pass runs every refreshMs, paced). */
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
      this.release(conn, 'shutdown');
      conn.ws.terminate();
    }
    for (const ws of this.closing) ws.terminate();
    this.closing.clear();
    this.wheel.stop();
    await this.batcher.stop();
  }
}

const RESYNC_SLOT_MS = 100; // resync() closes one slice of the connections per slot
