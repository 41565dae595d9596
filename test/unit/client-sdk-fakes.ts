// Fakes for the client SDK's unit tests: a manual clock, a scripted WebSocket "server" and a gateway.
// Nothing here waits on real time; `clock.advance(ms)` runs the timers that fall due, in order.
import type { ClientFrame, ServerFrame } from '../../internal/protocol/frames.js';
import type { Message } from '../../internal/protocol/message.js';
import type { Clock } from '../../internal/client/clock.js';
import { CourierClient, type CourierClientOptions } from '../../internal/client/index.js';
import type { ConversationSummary, FetchLike } from '../../internal/client/api.js';
import type { SocketLike } from '../../internal/client/socket.js';

/** Lets the promise chains started by the last step (fetch → socket) run to their next wait. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(++this.seq, { at: this.t + Math.max(0, ms), fn });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward by `ms`, running each due timer at its own time and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (!next || entry[1].at < next[1].at) next = entry;
      if (!next || next[1].at > end) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await settle();
    }
    this.t = end;
  }
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  readonly sent: ClientFrame[] = [];
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  closedByClient: number | undefined;

  constructor(readonly url: string) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close(code = 1000): void {
    this.closedByClient ??= code;
    this.readyState = 3;
  }

  // The server's side of the script.
  accept(uid = 'u1', heartbeat = 30): void {
    this.readyState = 1;
    this.push({ type: 'welcome', connId: `customer:web:${this.url.length}`, uid, heartbeat, worker: 'w1' });
  }
  push(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  frames<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((f) => f.type === type) as Extract<ClientFrame, { type: T }>[];
  }
}

/** A gateway answer: a status and body, or a thrown network error. */
export type GatewayAnswer = { status: number; body?: unknown } | 'network-error';

/** A client wired to fakes; `sockets` are the WebSockets it opened, newest last. */
export function fakeClient(options: Partial<CourierClientOptions> & { gateway?: GatewayAnswer[] } = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const gatewayCalls: { at: number; token: string }[] = [];
  const list: ConversationSummary[] = [];
  const answers = options.gateway ?? [];
  const listCalls: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    if (url.includes('/conversations?')) {
      // The conversation list a reconnecting client reads; tests fill `conversations` when they need it.
      listCalls.push(url);
      return { status: 200, text: async () => JSON.stringify({ conversations: list.splice(0), next: null }) };
    }
    if (!url.endsWith('/v1/gateway')) throw new Error(`unexpected fetch ${url}`);
    gatewayCalls.push({ at: clock.now(), token: init.headers.authorization ?? '' });
    const answer = answers.shift() ?? { status: 200, body: { url: 'ws://worker.test/ws' } };
    if (answer === 'network-error') throw new Error('connection refused');
    return { status: answer.status, text: async () => JSON.stringify(answer.body ?? {}) };
  };
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  const client = new CourierClient({
    baseUrl: 'http://business.test',
    token: 'token-1',
    WebSocket: Socket,
    fetch,
    clock,
    random: () => 0.5,
    onListenerError: (err) => {
      throw err;
    },
    ...options,
  });
  const received: Message[] = [];
  const errors: { code: string; ref?: string }[] = [];
  const states: string[] = [];
  client.on('message', (m) => received.push(m));
  client.on('error', (e) => errors.push({ code: e.code, ...(e.ref === undefined ? {} : { ref: e.ref }) }));
  client.on('state', (s) => states.push(s));
  return {
    client,
    clock,
    sockets,
    gatewayCalls,
    /** The next conversation list answer (consumed by one call). */
    conversations: list,
    listCalls,
    received,
    errors,
    states,
    /** The newest socket (fails the test when none was opened). */
    last(): FakeSocket {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error('no socket was opened');
      return s;
    },
    /** connect() and accept the first socket. */
    async open(uid = 'u1', heartbeat = 30): Promise<FakeSocket> {
      const opened = client.connect();
      await settle();
      this.last().accept(uid, heartbeat);
      await opened;
      return this.last();
    },
  };
}

/** A message of `conversation` at `seq`, with a stable id per (conversation, seq). */
export function msg(seq: number, conversation = 'd:u1:u2', from = 'u2'): Message {
  return {
    id: `${conversation}#${seq}`,
    conversation,
    seq,
    from,
    to: ['u1'],
    type: 'text',
    content: `m${seq}`,
    ts: 1_700_000_000_000 + seq,
  };
}
