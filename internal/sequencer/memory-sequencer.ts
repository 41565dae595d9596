import type { LastSeqSource, Sequencer } from './sequencer.js';

/** Single-process sequencer; correct only while one business node allocates sequence numbers. */
export class MemorySequencer implements Sequencer {
  private readonly last = new Map<string, number>();
  // One seed read per conversation even when many sends race on a cold conversation.
  private readonly seeding = new Map<string, Promise<number>>();

  constructor(private readonly seed: LastSeqSource) {}

  async next(conversation: string, count = 1): Promise<number> {
    if (!this.last.has(conversation)) await this.seedOnce(conversation);
    const first = (this.last.get(conversation) ?? 0) + 1;
    this.last.set(conversation, first + count - 1);
    return first;
  }

  private seedOnce(conversation: string): Promise<number> {
    let pending = this.seeding.get(conversation);
    if (!pending) {
      pending = this.seed(conversation).then(
        (seq) => {
          if (!this.last.has(conversation)) this.last.set(conversation, seq);
          this.seeding.delete(conversation);
          return seq;
        },
        (err: unknown) => {
          this.seeding.delete(conversation);
          throw err;
        },
      );
      this.seeding.set(conversation, pending);
    }
    return pending;
  }

  async close(): Promise<void> {
    this.last.clear();
  }
}
