import type { OutgoingMessage } from '../protocol/frames.js';
import type { Message } from '../protocol/message.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { Timer, type Clock } from './clock.js';
import { CourierClientError, isRetryable } from './errors.js';

// Sends that have not been answered with `sent` yet. Each keeps its clientMsgId for its whole life, so every
// retry (after a timeout, a retryable error or a reconnect) is the same message to business, which stores
// it once and answers every repeat with the first result: the receiver never sees a duplicate.

export interface OutboxOptions {
  sendTimeoutMs: number; // send the frame again when no `sent` arrives within this long
  retry: BackoffOptions; // delays after a retryable error frame
}

interface Pending {
  clientMsgId: string;
  message: OutgoingMessage;
  promise: Promise<Message>;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  timer: Timer;
  backoff: Backoff;
}

export class Outbox {
  // Map keeps insertion order, so a reconnect resends in the order the app sent.
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly options: OutboxOptions,
    private readonly clock: Clock,
    private readonly random: () => number,
    /** Writes a send frame; false when there is no open connection (the reconnect resends it). */
    private readonly write: (clientMsgId: string, message: OutgoingMessage) => boolean,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  has(clientMsgId: string): boolean {
    return this.pending.has(clientMsgId);
  }

  /** Sending the same clientMsgId again while it is pending joins the first send. */
  add(clientMsgId: string, message: OutgoingMessage): Promise<Message> {
    const known = this.pending.get(clientMsgId);
    if (known) return known.promise;
    let resolve!: (m: Message) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Message>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Pending = {
      clientMsgId,
      message,
      promise,
      resolve,
      reject,
      timer: new Timer(this.clock),
      backoff: new Backoff(this.options.retry, this.random),
    };
    this.pending.set(clientMsgId, entry);
    this.attempt(entry);
    return promise;
  }

  /** A `sent` frame: true when it answered one of ours. */
  onSent(clientMsgId: string, message: Message): boolean {
    const entry = this.pending.get(clientMsgId);
    if (!entry) return false;
    this.finish(entry);
    entry.resolve(message);
    return true;
  }

  /** An error frame whose ref may be one of our clientMsgIds: retry or reject; true when it was ours. */
  onError(clientMsgId: string, code: string, text: string): boolean {
    const entry = this.pending.get(clientMsgId);
    if (!entry) return false;
    if (isRetryable(code)) {
      entry.timer.start(entry.backoff.next(), () => this.attempt(entry));
    } else {
      this.finish(entry);
      entry.reject(new CourierClientError(code, text, clientMsgId));
    }
    return true;
  }

  /** The connection is (re)open: send everything still pending, oldest first. */
  resendAll(): void {
    for (const entry of this.pending.values()) this.attempt(entry);
  }

  /** The connection is gone: stop the timers; resendAll runs when the next one opens. */
  pause(): void {
    for (const entry of this.pending.values()) entry.timer.stop();
  }

  rejectAll(error: CourierClientError): void {
    for (const entry of [...this.pending.values()]) {
      this.finish(entry);
      entry.reject(error);
    }
  }

  private attempt(entry: Pending): void {
    if (!this.write(entry.clientMsgId, entry.message)) return;
    entry.timer.start(this.options.sendTimeoutMs, () => this.attempt(entry));
  }

  private finish(entry: Pending): void {
    entry.timer.stop();
    this.pending.delete(entry.clientMsgId);
  }
}
