// One load-generator connection, to courier (raw `ws`, the protocol of DESIGN §4) or to the Socket.IO
// reference peer (socket.io-client), behind one small interface so that the same tool drives both. Every
// message frame is ACKed: courier connections batch their ACKs as the SDK does (below), the Socket.IO client
// emits one `ack` per message as that peer's protocol has it; pings are answered by `ws` itself. Kept lean:
// at 15,000 connections per generator, every closure and buffer per connection shows up in the generator's
// own memory.
import { Agent, type ClientRequestArgs } from 'node:http';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import WebSocket from 'ws';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';

export interface ConnEvents {
  /** Authenticated and usable (courier: `welcome` received; Socket.IO: `connect`). */
  open(conn: LoadConn): void;
  /** Never opened: refused upgrade ("http 401"), transport error ("error ECONNREFUSED"), "timeout". */
  fail(index: number, reason: string): void;
  /** Lost after open, by reason ("close 1012", "disconnect transport close"); not called for our own close. */
  drop(index: number, reason: string): void;
  /** A pushed message; key/t come from content written by `push` (undefined for other content). */
  message(index: number, key: number | undefined, intendedMs: number | undefined): void;
  /** Answer to a `send` of this connection: accepted, or refused with an error code. */
  sent?(index: number, clientMsgId: string, error?: string): void;
}

export interface OutgoingSend {
  clientMsgId: string;
  to: string;
  content: { k: number; t: number };
}

/** Where a connection comes from: a loopback source address ('' = the kernel's) and port (0 = the kernel's). */
export interface LocalEnd {
  address: string;
  port: number;
}

function localOptions(local: LocalEnd): { localAddress?: string; localPort?: number } {
  if (!local.address) return {};
  return local.port
    ? { localAddress: local.address, localPort: local.port }
    : { localAddress: local.address };
}

export interface LoadConn {
  readonly index: number;
  send(message: OutgoingSend): void;
  /** Our own orderly close: no `drop` event follows. */
  close(): void;
  /** Gives up on a connection that did not open in time: reported through `fail` with this reason. */
  abort(reason: string): void;
}

function contentOf(content: unknown): [number | undefined, number | undefined] {
  if (typeof content !== 'object' || content === null) return [undefined, undefined];
  const { k, t } = content as { k?: unknown; t?: unknown };
  return typeof k === 'number' && typeof t === 'number' ? [k, t] : [undefined, undefined];
}

// ACKs the way the SDK sends them (internal/client/courier-client.ts): a connection collects the ids of the
// messages that arrive and sends one `{"type":"ack","ids":[…]}` frame per event-loop turn. One setImmediate
// per generator process flushes every connection that has ids waiting, rather than one timer per connection.
const MAX_ACK_IDS = 1000; // the worker takes at most 1000 ids per ack frame
let ackWaiting: CourierConn[] = [];
let ackScheduled = false;

function flushAllAcks(): void {
  ackScheduled = false;
  const conns = ackWaiting;
  ackWaiting = [];
  for (const conn of conns) conn.flushAcks();
}

class CourierConn implements LoadConn {
  private opened = false;
  private closing = false;
  private readonly ws: WebSocket;
  /** Ids received this turn and not yet ACKed; undefined while none wait (no array kept per idle connection). */
  private acks: string[] | undefined;

  constructor(
    readonly index: number,
    url: string,
    token: string,
    local: LocalEnd,
    timeoutMs: number,
    private readonly events: ConnEvents,
  ) {
    // ws hands these options to http.request, which hands localAddress and localPort to net.connect.
    this.ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...localOptions(local),
    });
    this.ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      this.finish(`http ${res.statusCode ?? 0}`);
    });
    this.ws.on('error', (err: Error & { code?: string }) => this.finish(`error ${err.code ?? err.message}`));
    this.ws.on('close', (code: number) => this.finish(`close ${code}`));
    this.ws.on('message', (data: WebSocket.RawData) => this.onFrame(String(data)));
  }

  private finish(reason: string): void {
    if (this.closing) return;
    this.closing = true; // one report per connection: 'error' and 'close' usually both fire
    if (this.opened) this.events.drop(this.index, reason);
    else this.events.fail(this.index, reason === 'close 1006' ? 'closed before welcome' : reason);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }

  private onFrame(text: string): void {
    let frame: {
      type?: unknown;
      message?: { id?: unknown; content?: unknown };
      clientMsgId?: unknown;
      ref?: unknown;
      code?: unknown;
    };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      this.events.message(this.index, undefined, undefined); // counted as unexpected by the caller
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.opened = true;
        this.events.open(this);
        return;
      case 'message': {
        const id = frame.message?.id;
        if (typeof id === 'string') this.ack(id); // duplicates too, or the worker keeps resending them
        const [k, t] = contentOf(frame.message?.content);
        this.events.message(this.index, k, t);
        return;
      }
      case 'sent':
        if (typeof frame.clientMsgId === 'string') this.events.sent?.(this.index, frame.clientMsgId);
        return;
      case 'error':
        if (typeof frame.ref === 'string')
          this.events.sent?.(this.index, frame.ref, `ws error ${String(frame.code)}`);
        return;
      default:
        return; // read receipts, pongs, syncs: nothing to measure
    }
  }

  private ack(id: string): void {
    if (this.acks === undefined) {
      this.acks = [];
      ackWaiting.push(this);
      if (!ackScheduled) {
        ackScheduled = true;
        setImmediate(flushAllAcks);
      }
    }
    this.acks.push(id);
  }

  /** Sends the ids collected this turn, at most MAX_ACK_IDS per frame (called by flushAllAcks). */
  flushAcks(): void {
    const ids = this.acks;
    this.acks = undefined;
    if (ids === undefined || this.closing || this.ws.readyState !== WebSocket.OPEN) return;
    for (let i = 0; i < ids.length; i += MAX_ACK_IDS)
      this.ws.send(`{"type":"ack","ids":${JSON.stringify(ids.slice(i, i + MAX_ACK_IDS))}}`);
  }

  send(m: OutgoingSend): void {
    this.ws.send(
      JSON.stringify({
        type: 'send',
        clientMsgId: m.clientMsgId,
        message: { to: m.to, type: 'custom', content: m.content },
      }),
    );
  }

  abort(reason: string): void {
    this.finish(reason);
  }

  close(): void {
    this.closing = true;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws.terminate();
  }
}

type IoSocket = ReturnType<typeof io>;

/** Connects from one given local port (the address comes with the request's options). */
class LocalPortAgent extends Agent {
  constructor(private readonly localPort: number) {
    super();
  }

  // The agent's own callback needs no call: a socket returned here is taken as created.
  override createConnection(options: ClientRequestArgs): Socket {
    return createConnection({ ...(options as NetConnectOpts), localPort: this.localPort });
  }
}

class SocketIoConn implements LoadConn {
  private opened = false;
  private closing = false;
  private readonly socket: IoSocket;

  constructor(
    readonly index: number,
    url: string,
    uid: string,
    local: LocalEnd,
    timeoutMs: number,
    private readonly events: ConnEvents,
  ) {
    // engine.io-client passes localAddress (missing from its type) and agent on to `ws`, but not localPort:
    // the port goes through an agent of this connection's own (typed there as string | boolean).
    const options: Record<string, unknown> = {
      transports: ['websocket'],
      query: { uid },
      reconnection: false,
      forceNew: true,
      timeout: timeoutMs,
      ...(local.address ? { localAddress: local.address } : {}),
      ...(local.address && local.port ? { agent: new LocalPortAgent(local.port) } : {}),
    };
    this.socket = io(url, options as Partial<ManagerOptions & SocketOptions>);
    this.socket.on('connect', () => {
      this.opened = true;
      this.events.open(this);
    });
    this.socket.on('connect_error', (err: Error) => this.finish(`connect_error ${err.message}`));
    this.socket.on('disconnect', (reason: string) => this.finish(`disconnect ${reason}`));
    this.socket.on('message', (msg: { id?: unknown; content?: unknown }) => {
      if (typeof msg?.id === 'string') this.socket.emit('ack', [msg.id]);
      const [k, t] = contentOf(msg?.content);
      this.events.message(this.index, k, t);
    });
  }

  private finish(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (this.opened) this.events.drop(this.index, reason);
    else this.events.fail(this.index, reason);
    this.socket.close();
  }

  send(m: OutgoingSend): void {
    this.socket.emit(
      'send',
      { clientMsgId: m.clientMsgId, message: { to: m.to, type: 'custom', content: m.content } },
      (answer: { error?: { code?: string } } | undefined) =>
        this.events.sent?.(
          this.index,
          m.clientMsgId,
          answer?.error ? `ws error ${answer.error.code ?? 'unknown'}` : undefined,
        ),
    );
  }

  abort(reason: string): void {
    this.finish(reason);
  }

  close(): void {
    this.closing = true;
    this.socket.close();
  }
}

/** Opens one connection; the outcome arrives through `events` (never throws for network failures). */
export function openConn(
  kind: 'courier' | 'socketio',
  index: number,
  url: string,
  auth: { token: string; uid: string },
  local: LocalEnd,
  timeoutMs: number,
  events: ConnEvents,
): LoadConn {
  return kind === 'courier'
    ? new CourierConn(index, url, auth.token, local, timeoutMs, events)
    : new SocketIoConn(index, url, auth.uid, local, timeoutMs, events);
}
