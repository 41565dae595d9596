// Group commit: callers submit one item each; a single writer flushes whatever has queued up as one batch.
// There is no timer. When idle, the flush starts at the end of the current event-loop turn, so everything
// submitted in that turn shares a batch; under load, the next batch fills while the previous one commits,
// so batch size grows with load and latency stays one commit.
import type { Logger } from '../log/logger.js';

interface Pending<T, R> {
  item: T;
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

  constructor(
    private readonly maxItems: number,
    private readonly write: BatchWriter<T, R>,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the item is committed; rejects with the error the writer reported for it. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.drain().catch((err: unknown) =>
        this.logger.error({ err }, 'group commit loop failed'),
      );
    });
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
