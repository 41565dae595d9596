// Group commit: callers submit one item each; a single writer flushes whatever has queued up as one batch.
// When idle, the flush starts at the end of the current event-loop turn, so everything submitted in that turn
// shares a batch; under load, the next batch fills while the previous one commits, so batch size grows with
// load and latency stays one commit. Optionally a batch also lingers until its oldest item has waited
// `lingerMs` (or the batch is full): at moderate rates a commit is shorter than the gap between a few
// messages, so without it nearly every message pays a transaction and an fsync of its own.
import type { Logger } from '../log/logger.js';

interface Pending<T, R> {
  item: T;
  /** performance.now() at submit, for the linger. */
  at: number;
  resolve: (value: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Writes a batch; returns one entry per item, in order: what the item's caller gets when committed (null
 * when there is nothing to give back), else that item's error.
 */
export type BatchWriter<T, R = null> = (items: T[]) => Promise<Array<Error | R>>;

export class GroupCommit<T, R = null> {
  private queue: Pending<T, R>[] = [];
  private running: Promise<void> | null = null;
  /** Ends a linger early, once the queue holds a full batch. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly maxItems: number,
    private readonly write: BatchWriter<T, R>,
    private readonly logger: Logger,
    private readonly lingerMs = 0,
  ) {}

  /** Resolves once the item is committed; rejects with the error the writer reported for it. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      if (this.wake && this.queue.length >= this.maxItems) this.wake();
      this.running ??= this.drain().catch((err: unknown) =>
        this.logger.error({ err }, 'group commit loop failed'),
      );
    });
  }

  /** Waits until the oldest queued item is `lingerMs` old or a full batch has queued. */
  private async linger(): Promise<void> {
    const oldest = this.queue[0];
    if (this.lingerMs <= 0 || !oldest || this.queue.length >= this.maxItems) return;
    const wait = oldest.at + this.lingerMs - performance.now();
    if (wait < 1) return; // timers have 1 ms resolution
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  /** Resolves when everything submitted so far has been written (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Not just the current microtask: the requests that one poll of the sockets delivers each reach the
    // store in a microtask chain of their own, so a microtask alone gave batches of ~2 at 2,800 single sends
    // a second on the all-in-one. Waiting for the end of the turn costs the first item that turn's remaining
    // callbacks, which run before a commit's answer could be read anyway; it cut server CPU per message by
    // 8 % there (medians of 4, BENCHMARKS.md) and left the cluster's MariaDB path unchanged.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.queue.length > 0) {
        await this.linger();
        const batch = this.queue.splice(0, this.maxItems);
        let results: Array<Error | R>;
        try {
          results = await this.write(batch.map((p) => p.item));
        } catch (err) {
          results = batch.map(() => (err instanceof Error ? err : new Error(String(err))));
        }
        batch.forEach((p, i) => {
          if (i >= results.length) p.reject(new Error('group commit writer returned too few results'));
          else {
            const result = results[i] as Error | R;
            if (result instanceof Error) p.reject(result);
            else p.resolve(result);
          }
        });
      }
    } finally {
      // Cleared in the same synchronous step as the last empty-queue check, so a later submit always
      // finds either a running loop that will see its item or no loop and starts one.
      this.running = null;
    }
  }
}
