import type { ClientFrame } from '../protocol/frames.js';
import type { Message } from '../protocol/message.js';

// Sync requests, at most one in flight per conversation (a `sync` answer names only its conversation, so
// two requests for the same one could not be told apart). A request follows the pages while `hasMore`;
// requests made while another is running are dropped, because the running one ends at the newest message.

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface SyncHooks {
  /** Writes a frame; false when no connection is open (the next welcome syncs every conversation). */
  write(frame: ClientFrame): boolean;
  ingest(message: Message): unknown;
}

export class Syncs {
  private readonly inFlight = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(
    private readonly limit: number,
    private readonly hooks: SyncHooks,
  ) {}

  request(conversation: string, after: number): void {
    if (this.inFlight.has(conversation)) return;
    if (this.hooks.write({ type: 'sync', conversation, after, limit: this.limit }))
      this.inFlight.add(conversation);
  }

  /** Like request, and resolves when the conversation has been synced to its newest message. */
  run(conversation: string, after: number): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(conversation) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(conversation, list);
    });
    this.request(conversation, after);
    return done;
  }

  onPage(conversation: string, messages: Message[], hasMore: boolean): void {
    // Still in flight while the page is ingested, so the gaps it fills do not ask for the same messages again.
    for (const m of messages) this.hooks.ingest(m);
    const last = messages[messages.length - 1];
    if (hasMore && last && this.inFlight.has(conversation)) {
      if (this.hooks.write({ type: 'sync', conversation, after: last.seq, limit: this.limit })) return;
    }
    this.inFlight.delete(conversation);
    if (hasMore && last) return; // the connection dropped mid-way: the next welcome syncs again
    for (const w of this.take(conversation)) w.resolve();
  }

  /** An error frame: true when it answered a sync of ours. */
  onError(conversation: string, error: Error): boolean {
    if (!this.inFlight.delete(conversation)) return false;
    for (const w of this.take(conversation)) w.reject(error);
    return true;
  }

  /** The connection dropped: nothing is in flight any more; waiters are answered after the reconnect. */
  pause(): void {
    this.inFlight.clear();
  }

  rejectAll(error: Error): void {
    for (const conversation of [...this.waiters.keys()]) {
      for (const w of this.take(conversation)) w.reject(error);
    }
  }

  private take(conversation: string): Waiter[] {
    const list = this.waiters.get(conversation) ?? [];
    this.waiters.delete(conversation);
    return list;
  }
}
