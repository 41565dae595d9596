import type { ClientFrame, OutgoingMessage, ServerFrame } from '../protocol/frames.js';
import { CloseCode } from '../protocol/frames.js';
import type { Json, Message, MessageType } from '../protocol/message.js';
import { ApiError, CourierApi } from './api.js';
import { Backoff } from './backoff.js';
import { Timer, systemClock, type Clock } from './clock.js';
import { ConversationStreams } from './conversation-streams.js';
import { changedSince } from './discovery.js';
import { CourierClientError } from './errors.js';
import { Emitter } from './events.js';
import { Outbox } from './outbox.js';
import { Syncs } from './syncs.js';
import { WorkerSocket, type WebSocketConstructor } from './socket.js';
import { TokenKeeper } from './token.js';
import type { ClientEvents, ClientState, CourierClientOptions, Target } from './types.js';

// The courier client SDK (DESIGN §4 from the user's side), for browsers and Node: connects through
// GET /v1/gateway, reconnects with jittered backoff, catches up by seq after every reconnect, ACKs and
// de-duplicates pushes, keeps each conversation in seq order, and retries sends with the same clientMsgId.

export class CourierClient {
  readonly api: CourierApi;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly events: Emitter<ClientEvents>;
  private readonly tokens: TokenKeeper;
  private readonly backoff: Backoff;
  private readonly streams: ConversationStreams;
  private readonly outbox: Outbox;
  private readonly syncs: Syncs;
  private readonly retry: Timer;
  private readonly WebSocket: WebSocketConstructor;
  private socket: WorkerSocket | undefined;
  private current: ClientState = 'idle';
  private welcome: Extract<ServerFrame, { type: 'welcome' }> | undefined;
  private acks: string[] = [];
  private readonly ackTimer: Timer;
  private readonly readUpTo = new Map<string, number>(); // the highest read seq asked for, per conversation
  private readonly unsentReads = new Set<string>(); // conversations whose read seq waits for a connection
  private readonly ownSends = new Map<string, string>(); // message id → clientMsgId, until emitted
  private firstOpen: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private offlineSince: number | undefined; // when the last open connection was lost
  private counter = 0;

  constructor(private readonly options: CourierClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) throw new TypeError('CourierClient: no global WebSocket here; pass options.WebSocket');
    this.WebSocket = Ctor;
    this.events = new Emitter(options.onListenerError ?? ((err) => console.error(err)));
    const onError = (err: CourierClientError) => this.events.emit('error', err);
    const { token, refreshToken, refreshBeforeMs = 60_000 } = options;
    this.tokens = new TokenKeeper(token, refreshToken, refreshBeforeMs, this.clock, onError);
    this.api = new CourierApi(options.baseUrl, () => this.tokens.token, options.fetch);
    this.backoff = new Backoff(options.reconnect, this.random);
    this.retry = new Timer(this.clock);
    this.ackTimer = new Timer(this.clock);
    this.streams = new ConversationStreams(
      {
        gapTimeoutMs: options.gapTimeoutMs ?? 3_000,
        fromStart: options.fromStart ?? true,
        rememberIds: options.rememberIds ?? 10_000,
      },
      this.clock,
      {
        emit: (m) => this.emitMessage(m),
        requestSync: (conversation, after) => this.syncs.request(conversation, after),
      },
    );
    this.syncs = new Syncs(Math.min(500, options.syncLimit ?? 200), {
      write: (frame) => this.write(frame),
      ingest: (m) => this.streams.ingest(m),
    });
    this.outbox = new Outbox(
      { sendTimeoutMs: options.sendTimeoutMs ?? 10_000, retry: { initialMs: 250, maxMs: 10_000 } },
      this.clock,
      this.random,
      (clientMsgId, message) => this.write({ type: 'send', clientMsgId, message }),
    );
  }

  get state(): ClientState {
    return this.current;
  }

  /** The open connection's id and worker (DESIGN §4 welcome), or undefined while not connected. */
  get connection(): { connId: string; uid: string; worker: string } | undefined {
    return this.current === 'open' ? this.welcome : undefined;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Starts connecting; resolves at the first open, rejects if the client stops for good before it. */
  connect(): Promise<void> {
    if (this.current !== 'idle') return Promise.reject(new Error('CourierClient: connect() called twice'));
    const opened = new Promise<void>((resolve, reject) => (this.firstOpen = { resolve, reject }));
    // A page may start the client without awaiting it; a fatal stop is also emitted as an `error` event,
    // so this handler only keeps an ignored promise from becoming an unhandled rejection.
    opened.catch(() => undefined);
    this.tokens.schedule();
    this.setState('connecting');
    void this.attempt();
    return opened;
  }

  /** Stops for good: closes the socket, rejects pending sends and syncs with code `closed`. */
  close(): void {
    if (this.closed) return;
    this.stop(new CourierClientError('closed', 'the client was closed'));
  }

  /** Sends with a clientMsgId, retried with that same id until `sent` arrives; resolves with the message. */
  send(
    target: Target,
    type: MessageType,
    content: Json,
    options: { clientMsgId?: string } = {},
  ): Promise<Message> {
    if (this.closed) return Promise.reject(new CourierClientError('closed', 'client closed'));
    const message: OutgoingMessage = { ...target, type, content };
    return this.outbox.add(options.clientMsgId ?? this.newClientMsgId(), message);
  }

  newClientMsgId(): string {
    return `c-${this.clock.now().toString(36)}-${(this.counter++).toString(36)}-${this.random().toString(36).slice(2, 10)}`;
  }

  /** Moves this user's read seq forward; the peer's devices get a `read` event. Sent when connected. */
  markRead(conversation: string, seq: number): void {
    if (seq <= (this.readUpTo.get(conversation) ?? -1)) return;
    this.readUpTo.set(conversation, seq);
    if (this.write({ type: 'read', conversation, seq })) this.unsentReads.delete(conversation);
    else this.unsentReads.add(conversation);
  }

  /** Declares that the app already holds `conversation` up to `seq`: reconnects sync it from there. */
  track(conversation: string, seq = 0): void {
    this.streams.track(conversation, seq);
  }

  /** Stops following a conversation: reconnects no longer sync it (e.g. after handing it to another agent). */
  untrack(conversation: string): void {
    this.streams.forget(conversation);
  }

  /** Catches a conversation up from its last seen seq (every page); resolves when it is current. */
  sync(conversation: string): Promise<void> {
    this.streams.track(conversation, 0);
    return this.syncs.run(conversation, this.streams.lastSeq(conversation));
  }

  lastSeq(conversation: string): number {
    return this.streams.lastSeq(conversation);
  }

  private get closed(): boolean {
    return this.current === 'closed';
  }

  private setState(state: ClientState): void {
    if (this.current === state) return;
    this.current = state;
    this.events.emit('state', state);
  }

  /** One connect attempt: ask the gateway for a worker, then open a WebSocket to it. */
  private async attempt(): Promise<void> {
    if (this.closed) return;
    let url: string;
    try {
      if (this.tokens.stale && this.tokens.canRefresh) await this.tokens.refresh();
      url = (await this.api.gateway()).url;
    } catch (err) {
      return this.onConnectFailure(err);
    }
    if (this.closed) return; // closed while the gateway answered
    const target = new URL(url);
    target.searchParams.set('token', this.tokens.token);
    const socket: WorkerSocket = new WorkerSocket(
      this.WebSocket,
      target.toString(),
      this.clock,
      {
        frame: (frame) => this.onFrame(socket, frame),
        garbage: (text) =>
          this.events.emit(
            'error',
            new CourierClientError('protocol', `unreadable frame: ${text.slice(0, 100)}`),
          ),
        closed: (code, reason) => this.onClosed(socket, code, reason),
      },
      this.options.framePace,
    );
    this.socket = socket;
  }

  private onConnectFailure(err: unknown): void {
    if (this.closed) return;
    const status = err instanceof ApiError ? err.status : 0;
    if (status === 401) {
      if (!this.tokens.canRefresh) return this.stop(err as ApiError);
      // Straight back after the first refresh; if the new token is refused too, back off between tries.
      const first = this.backoff.attempt === 0;
      const delay = this.backoff.next();
      this.tokens.refresh().then(
        () => this.reconnectIn(first ? 0 : delay),
        (e: unknown) => this.stop(e as CourierClientError),
      );
      return;
    }
    if (status === 403) return this.stop(new CourierClientError('banned', (err as ApiError).message));
    this.events.emit('error', asClientError(err));
    this.reconnectIn(this.backoff.next());
  }

  private onFrame(socket: WorkerSocket, frame: ServerFrame): void {
    if (socket !== this.socket) return;
    switch (frame.type) {
      case 'welcome':
        this.welcome = frame;
        socket.startHeartbeat(frame.heartbeat);
        this.backoff.reset();
        this.setState('open');
        this.firstOpen?.resolve();
        this.firstOpen = undefined;
        // Catch up: unsent reads, pending sends (same clientMsgIds), and every conversation from its seq.
        for (const conversation of [...this.unsentReads]) {
          const seq = this.readUpTo.get(conversation) ?? 0;
          if (this.write({ type: 'read', conversation, seq })) this.unsentReads.delete(conversation);
        }
        this.outbox.resendAll();
        for (const { conversation, after } of this.streams.syncPoints())
          this.syncs.request(conversation, after);
        if (this.offlineSince !== undefined) this.discover(frame.uid, this.offlineSince);
        return;
      case 'message':
        this.acks.push(frame.message.id); // duplicates too, or the worker keeps resending them
        if (!this.ackTimer.active) this.ackTimer.start(0, () => this.flushAcks());
        this.streams.ingest(frame.message);
        return;
      case 'sent':
        if (!this.outbox.onSent(frame.clientMsgId, frame.message)) return;
        this.ownSends.set(frame.message.id, frame.clientMsgId);
        if (this.streams.ingest(frame.message) === 'duplicate') this.ownSends.delete(frame.message.id);
        return;
      case 'sync':
        return this.syncs.onPage(frame.conversation, frame.messages, frame.hasMore);
      case 'read':
        return this.events.emit('read', { conversation: frame.conversation, uid: frame.uid, seq: frame.seq });
      case 'pong':
        return;
      case 'error': {
        const { code, message, ref } = frame;
        if (ref !== undefined && this.outbox.onError(ref, code, message)) return;
        const error = new CourierClientError(code, message, ref);
        if (ref !== undefined) this.syncs.onError(ref, error);
        this.events.emit('error', error);
        return;
      }
    }
  }

  private onClosed(socket: WorkerSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    if (this.welcome) this.offlineSince ??= this.clock.now();
    this.socket = undefined;
    this.welcome = undefined;
    this.acks = []; // unACKed pushes come again (resend or sync); an ACK on a new socket means nothing
    this.ackTimer.stop();
    this.outbox.pause();
    this.syncs.pause();
    if (this.closed) return;
    switch (code) {
      case CloseCode.banned:
        return this.stop(new CourierClientError('banned', reason || 'banned or kicked (4003)'));
      case CloseCode.tokenExpired:
        this.setState(this.firstOpen ? 'connecting' : 'reconnecting');
        this.tokens.refresh().then(
          () => this.reconnectIn(0),
          (err: unknown) => this.stop(err as CourierClientError),
        );
        return;
      case CloseCode.draining:
        // "Reconnect at once", spread over a short window so a whole worker's clients do not arrive together.
        return this.reconnectIn(this.random() * (this.options.drainJitterMs ?? 250));
      case CloseCode.protocolError:
      case CloseCode.frameTooLarge:
        this.events.emit('error', new CourierClientError('protocol', `closed ${code}: ${reason}`));
        return this.reconnectIn(this.backoff.next());
      default:
        return this.reconnectIn(this.backoff.next()); // 4008, 1006, 1001, 4000 (heartbeat)…
    }
  }

  /** Syncs the conversations that got messages while the client was away, known to it or not. */
  private discover(uid: string, since: number): void {
    const fromStart = this.options.fromStart ?? true;
    const lastSeq = (c: string) => (this.streams.known(c) ? this.streams.lastSeq(c) : undefined);
    changedSince(this.api, uid, since, lastSeq, fromStart).then(
      (found) => {
        if (this.offlineSince === since) this.offlineSince = undefined;
        for (const { conversation, after } of found) {
          this.streams.track(conversation, after);
          this.syncs.request(conversation, after);
        }
      },
      // Kept for the next reconnect; the known conversations were synced regardless.
      (err: unknown) => this.events.emit('error', asClientError(err)),
    );
  }

  private reconnectIn(ms: number): void {
    if (this.closed) return;
    this.setState(this.firstOpen ? 'connecting' : 'reconnecting');
    this.retry.start(ms, () => void this.attempt());
  }

  private write(frame: ClientFrame): boolean {
    return this.current === 'open' && this.socket !== undefined && this.socket.send(frame);
  }

  private flushAcks(): void {
    // The worker takes at most 1000 ids per ack frame.
    while (this.acks.length > 0) this.write({ type: 'ack', ids: this.acks.splice(0, 1000) });
  }

  private emitMessage(message: Message): void {
    const clientMsgId = this.ownSends.get(message.id);
    if (clientMsgId !== undefined) this.ownSends.delete(message.id);
    this.events.emit('message', message, clientMsgId === undefined ? {} : { clientMsgId });
  }

  private stop(error: CourierClientError): void {
    const fatal = error.code !== 'closed';
    this.setState('closed');
    this.retry.stop();
    this.ackTimer.stop();
    this.tokens.stop();
    this.streams.close();
    this.socket?.close(1000, 'client closed');
    this.socket = undefined;
    this.outbox.rejectAll(error);
    this.syncs.rejectAll(error);
    this.firstOpen?.reject(error);
    this.firstOpen = undefined;
    if (fatal) this.events.emit('error', error);
  }
}

function asClientError(err: unknown): CourierClientError {
  if (err instanceof CourierClientError) return err;
  return new CourierClientError('unavailable', String(err), undefined, { cause: err });
}
