import type { ClientFrame, ServerFrame } from '../protocol/frames.js';
import { Timer, type Clock } from './clock.js';
import { parseServerFrame } from './server-frames.js';

// One WebSocket to a worker, with the client's side of the heartbeat. The server pings only after read
// silence and browsers cannot send WebSocket pings, so the client sends a `ping` frame after `heartbeat`
// seconds without hearing anything and gives the connection up when another `heartbeat` passes in silence:
// a worker that vanished without closing TCP (power loss, network partition) is noticed in bounded time.

/** The part of the WebSocket API used here; the browser's WebSocket and the `ws` package both have it. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => SocketLike;

const OPEN = 1; // WebSocket.OPEN, the same in browsers and `ws`
export const CLIENT_GAVE_UP = 4000; // close code the client reports when the heartbeat went unanswered

export interface SocketEvents {
  frame(frame: ServerFrame): void;
  /** Text that is not a valid server frame. */
  garbage(text: string): void;
  /** Called once, whoever closed it. */
  closed(code: number, reason: string): void;
}

/** Client frames per second and burst; kept under the worker's defaults (100/s, 200) with room to spare. */
export interface Pace {
  perSecond: number;
  burst: number;
}

export class WorkerSocket {
  private readonly socket: SocketLike;
  private readonly silence: Timer;
  // The worker closes a connection that sends faster than its frame cap (4009), and a reconnect catching up on
  // many conversations sends a sync per conversation at once: frames over the pace wait here, in order.
  private readonly queue: ClientFrame[] = [];
  private readonly drain: Timer;
  private tokens: number;
  private refilledAt: number;
  private heartbeatMs = 0;
  private pinged = false;
  private done = false;

  constructor(
    Ctor: WebSocketConstructor,
    url: string,
    private readonly clock: Clock,
    private readonly events: SocketEvents,
    private readonly pace: Pace = { perSecond: 50, burst: 100 },
  ) {
    this.silence = new Timer(clock);
    this.drain = new Timer(clock);
    this.tokens = pace.burst;
    this.refilledAt = clock.now();
    this.socket = new Ctor(url);
    this.socket.onmessage = (event: { data: unknown }) => this.onData(event.data);
    this.socket.onclose = (event: { code: number; reason: string }) =>
      this.finish(event.code, String(event.reason ?? ''));
    // An error is always followed by a close event, which carries the code; nothing to do here, but a
    // handler must exist or `ws` treats the error as unhandled.
    this.socket.onerror = () => undefined;
  }

  get open(): boolean {
    return !this.done && this.socket.readyState === OPEN;
  }

  /** Starts the client heartbeat with the server's period (welcome.heartbeat). */
  startHeartbeat(seconds: number): void {
    this.heartbeatMs = Math.max(1_000, seconds * 1000);
    this.arm();
  }

  /** Writes the frame, or queues it behind the pace; false when the socket is not open. */
  send(frame: ClientFrame): boolean {
    if (!this.open) return false;
    // ACKs are not counted by the worker (they settle its pending pushes) and must not wait behind syncs.
    if (frame.type === 'ack' || (this.queue.length === 0 && this.take())) {
      this.socket.send(JSON.stringify(frame));
    } else {
      this.queue.push(frame);
      this.scheduleDrain();
    }
    return true;
  }

  private take(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(
      this.pace.burst,
      this.tokens + ((now - this.refilledAt) * this.pace.perSecond) / 1000,
    );
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private scheduleDrain(): void {
    if (this.drain.active) return;
    this.drain.start(Math.ceil(1000 / this.pace.perSecond), () => {
      while (this.queue.length > 0 && this.open && this.take()) {
        this.socket.send(JSON.stringify(this.queue.shift()));
      }
      if (this.queue.length > 0 && this.open) this.scheduleDrain();
    });
  }

  /** Closes and reports the close at once, without waiting for a handshake a dead peer never finishes. */
  close(code: number, reason: string): void {
    if (this.done) return;
    try {
      this.socket.close(code, reason);
    } finally {
      this.finish(code, reason);
    }
  }

  private onData(data: unknown): void {
    if (this.done) return;
    this.pinged = false;
    if (this.heartbeatMs > 0) this.arm();
    const text = typeof data === 'string' ? data : String(data);
    const frame = parseServerFrame(text);
    if (frame) this.events.frame(frame);
    else this.events.garbage(text);
  }

  private arm(): void {
    this.silence.start(this.heartbeatMs, () => {
      if (this.pinged) return this.close(CLIENT_GAVE_UP, 'heartbeat unanswered');
      this.pinged = true;
      this.send({ type: 'ping' });
      this.arm();
    });
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.silence.stop();
    this.drain.stop();
    this.queue.length = 0; // resent or re-requested by the client after the next welcome
    this.socket.onmessage = null;
    this.events.closed(code, reason);
  }
}
