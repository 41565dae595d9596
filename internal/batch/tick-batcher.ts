/**
 * Groups calls made in the same event-loop tick into one batch: no timer and no added latency when idle,
 * and under load every hop pays one request (or one write) per tick instead of one per message.
 */
export class TickBatcher<I, R> {
  private queue: { input: I; resolve: (r: R) => void; reject: (e: Error) => void }[] = [];
  private scheduled = false;

  /** `flush` answers a batch with one result per input, in order. */
  constructor(private readonly flush: (inputs: I[]) => Promise<R[]>) {}

  add(input: I): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  private run(): void {
    this.scheduled = false;
    const waiting = this.queue;
    this.queue = [];
    if (waiting.length === 0) return;
    this.flush(waiting.map((w) => w.input)).then(
      (results) => {
        waiting.forEach((w, i) => {
          const result = results[i];
          if (result === undefined) w.reject(new Error('batch answered fewer results than inputs'));
          else w.resolve(result);
        });
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const w of waiting) w.reject(error);
      },
    );
  }
}
