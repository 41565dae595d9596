// Group commit: what goes into one batch. Items submitted during one event-loop turn share a batch even when
// each arrives at the end of its own chain of awaits, as requests read in one poll of the sockets do; items
// submitted while a batch commits make up the next one; a writer's per-item errors reach their callers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../internal/log/logger.js';
import { GroupCommit } from '../../internal/store/group-commit.js';

/** Submits after `depth` awaits, like a request that passes auth, validation and sequencing first. */
async function afterAwaits<T>(depth: number, submit: () => Promise<T>): Promise<T> {
  for (let i = 0; i < depth; i++) await Promise.resolve();
  return submit();
}

describe('group commit', () => {
  it('puts everything submitted in one event-loop turn into one batch, however deep its await chain', async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number>(
      500,
      async (items) => {
        batches.push(items);
        return items.map(() => null);
      },
      silentLogger(),
    );
    await Promise.all([
      commit.submit(1),
      afterAwaits(3, () => commit.submit(2)),
      afterAwaits(20, () => commit.submit(3)),
    ]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('gathers what arrives during a commit into the next batch, and keeps the size cap', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number>(
      2,
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await first;
        return items.map(() => null);
      },
      silentLogger(),
    );
    const done = [commit.submit(1)];
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is now committing
    done.push(commit.submit(2), commit.submit(3), commit.submit(4));
    release();
    await Promise.all(done);
    assert.deepEqual(batches, [[1], [2, 3], [4]]);
  });

  it("gives each caller its own item's result or error", async () => {
    const commit = new GroupCommit<number, string>(
      500,
      async (items) => items.map((n) => (n % 2 ? `ok ${n}` : new Error(`bad ${n}`))),
      silentLogger(),
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => commit.submit(n)));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['ok 1', 'bad 2', 'ok 3'],
    );
  });

  /** The batches a commit with this linger and size cap writes for items submitted `gapMs` apart. */
  const spread = async (lingerMs: number, maxItems: number, items: number[], gapMs: number) => {
    const batches: number[][] = [];
    const commit = new GroupCommit<number>(
      maxItems,
      async (batch) => {
        batches.push(batch);
        return batch.map(() => null);
      },
      silentLogger(),
      lingerMs,
    );
    const done: Promise<null>[] = [];
    for (const [i, item] of items.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      done.push(commit.submit(item));
    }
    await Promise.all(done);
    return batches;
  };

  it('with a linger, items a few milliseconds apart share a batch; without one they do not', async () => {
    assert.deepEqual(await spread(0, 500, [1, 2, 3], 5), [[1], [2], [3]]);
    // 300 ms is far beyond the ~10 ms the three are spread over.
    assert.deepEqual(await spread(300, 500, [1, 2, 3], 5), [[1, 2, 3]]);
  });

  it('a batch that fills up does not wait out its linger', { timeout: 20_000 }, async () => {
    // With a one-minute linger, only the full batch can start a commit within the 10 s of the race.
    const batches = await Promise.race([
      spread(60_000, 3, [1, 2, 3], 5),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the full batch waited')), 10_000)),
    ]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });
});
