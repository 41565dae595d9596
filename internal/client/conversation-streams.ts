import type { Message } from '../protocol/message.js';
import { Timer, type Clock } from './clock.js';

// Per-conversation delivery order on the client side. Pushes, sync pages and the client's own `sent`
// results all arrive here, possibly twice (resends, sync overlapping pushes) and out of order (a push
// racing a sync, a message pushed while the client was reconnecting). Each conversation emits its
// messages once, in seq order: a message after a hole is held while the hole is synced, and emitted
// around the hole when it stays open longer than the gap timeout (a seq can be burnt for good when a
// store write fails after numbering). A message that fills a hole after that is still emitted, late.

export interface StreamOptions {
  gapTimeoutMs: number; // hold messages after a hole this long (since the last progress), then emit around it
  /**
   * true: a conversation seen for the first time starts at seq 1, so its history is synced in;
   * false: it starts at the first message seen (load tools that do not want history).
   */
  fromStart: boolean;
  rememberIds: number; // ids kept for dropping duplicates
}

export interface StreamHooks {
  emit(message: Message): void;
  /** Asks the server for the messages after `after` (the client skips it while one is in flight). */
  requestSync(conversation: string, after: number): void;
}

export type IngestResult = 'emitted' | 'late' | 'held' | 'duplicate';

const MAX_SKIPPED = 1_000; // seqs given up on that are remembered per conversation, to emit them late

class ConversationState {
  /** Every seq up to here was emitted or given up on. */
  delivered: number;
  readonly held = new Map<number, Message>();
  readonly skipped = new Set<number>();
  readonly gapTimer: Timer;

  constructor(delivered: number, clock: Clock) {
    this.delivered = delivered;
    this.gapTimer = new Timer(clock);
  }
}

export class ConversationStreams {
  private readonly conversations = new Map<string, ConversationState>();
  // Insertion-ordered, so the oldest id is forgotten first.
  private readonly seen = new Set<string>();

  constructor(
    private readonly options: StreamOptions,
    private readonly clock: Clock,
    private readonly hooks: StreamHooks,
  ) {}

  /** Declares that the app holds a conversation up to `seq`; a later reconnect syncs from there. */
  track(conversation: string, seq: number): void {
    if (!this.conversations.has(conversation)) {
      this.conversations.set(conversation, new ConversationState(seq, this.clock));
    }
  }

  /** Stops following a conversation (e.g. handed to another agent): no more syncs after reconnects. */
  forget(conversation: string): void {
    this.conversations.get(conversation)?.gapTimer.stop();
    this.conversations.delete(conversation);
  }

  /** The conversations known so far and the seq to sync each from after a reconnect. */
  syncPoints(): { conversation: string; after: number }[] {
    return [...this.conversations].map(([conversation, c]) => ({ conversation, after: syncPoint(c) }));
  }

  known(conversation: string): boolean {
    return this.conversations.has(conversation);
  }

  /** The highest seq emitted in order (0 for an unknown conversation). */
  lastSeq(conversation: string): number {
    return this.conversations.get(conversation)?.delivered ?? 0;
  }

  ingest(message: Message): IngestResult {
    if (this.seen.has(message.id)) return 'duplicate';
    let c = this.conversations.get(message.conversation);
    if (!c) {
      c = new ConversationState(this.options.fromStart ? 0 : message.seq - 1, this.clock);
      this.conversations.set(message.conversation, c);
    }
    if (message.seq <= c.delivered) {
      if (!c.skipped.delete(message.seq)) return 'duplicate';
      this.deliver(message);
      return 'late';
    }
    if (c.held.has(message.seq)) return 'duplicate';
    if (message.seq === c.delivered + 1) {
      this.deliver(message);
      c.delivered = message.seq;
      this.drain(message.conversation, c, true);
      return 'emitted';
    }
    c.held.set(message.seq, message);
    this.repair(message.conversation, c, false);
    return 'held';
  }

  /** Stops the gap timers; held messages stay held (a closed client emits nothing more). */
  close(): void {
    for (const c of this.conversations.values()) c.gapTimer.stop();
  }

  private deliver(message: Message): void {
    this.seen.add(message.id);
    if (this.seen.size > this.options.rememberIds) {
      const oldest = this.seen.values().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.hooks.emit(message);
  }

  /** Emits the held messages that now follow in order. */
  private drain(conversation: string, c: ConversationState, progressed: boolean): void {
    for (let next = c.held.get(c.delivered + 1); next; next = c.held.get(c.delivered + 1)) {
      c.held.delete(next.seq);
      this.deliver(next);
      c.delivered = next.seq;
    }
    if (c.held.size === 0) c.gapTimer.stop();
    else this.repair(conversation, c, progressed);
  }

  /** A hole lies below the held messages: sync it, and bound how long they wait for it. */
  private repair(conversation: string, c: ConversationState, progressed: boolean): void {
    // The timer restarts on progress, so a long history synced page by page is not cut short.
    if (!c.gapTimer.active || progressed) {
      c.gapTimer.start(this.options.gapTimeoutMs, () => this.giveUp(conversation, c));
    }
    this.hooks.requestSync(conversation, c.delivered);
  }

  private giveUp(conversation: string, c: ConversationState): void {
    const lowest = Math.min(...c.held.keys());
    if (!Number.isFinite(lowest)) return;
    for (let s = Math.max(c.delivered + 1, lowest - MAX_SKIPPED); s < lowest; s++) c.skipped.add(s);
    while (c.skipped.size > MAX_SKIPPED) c.skipped.delete(c.skipped.values().next().value as number);
    c.delivered = lowest - 1;
    this.drain(conversation, c, true);
  }
}

function syncPoint(c: ConversationState): number {
  return c.skipped.size === 0 ? c.delivered : Math.min(c.delivered, Math.min(...c.skipped) - 1);
}
