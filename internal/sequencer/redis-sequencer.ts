import { TickBatcher } from '../batch/tick-batcher.js';
import { CourierError } from '../errors.js';
import { isCluster, type RedisClient } from '../redis/client.js';
import { luaScript, runScript, type LuaScript } from '../redis/script.js';
import type { LastSeqSource, Sequencer } from './sequencer.js';

export interface RedisSequencerOptions {
  prefix: string; // key prefix of DESIGN §5, e.g. `courier:`
}

// Each script touches one key (`seq:{conversation}`, hash-tagged), so it runs on Cluster as well.
// Hot path: reserve only when the key exists; nil tells the caller to read the seed from the store.
const NEXT = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end
return false`;
// The hot path for a tick's sends at once, on one Redis (not Cluster, where the keys' slots differ): one
// script call per tick instead of one per message, each key answered in order (a key listed twice gets
// two successive reservations).
const NEXT_MANY = `local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then out[i] = redis.call('INCRBY', key, ARGV[i]) else out[i] = false end
end
return out`;
// Cold path: raise the counter to at least the store's last seq, then reserve. Atomic, so two nodes seeding the
// same conversation at once both land on one counter; taking the max also repairs a counter restored stale.
const SEED_AND_NEXT = `local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], ARGV[2]) end
return redis.call('INCRBY', KEYS[1], ARGV[1])`;

const scripts = {
  next: luaScript(NEXT),
  nextMany: luaScript(NEXT_MANY),
  seedAndNext: luaScript(SEED_AND_NEXT),
};

/**
 * Sequence numbers shared by every business node: `${prefix}seq:{conversation}` holds the last number handed
 * out. A missing key (new conversation, Redis restarted empty) is seeded from the store, so numbers continue
 * after a Redis loss instead of restarting at 1.
 *
 * The client is injected and stays its creator's: close() stops this sequencer from using it but never quits it.
 */
export class RedisSequencer implements Sequencer {
  private readonly prefix: string;
  private closed = false;
  // One store read per cold conversation per node, however many sends race on it.
  private readonly seeding = new Map<string, Promise<number>>();
  private readonly tick: TickBatcher<{ key: string; count: number }, number | null> | undefined;

  constructor(
    options: RedisSequencerOptions,
    private readonly client: RedisClient,
    private readonly seed: LastSeqSource,
  ) {
    this.prefix = options.prefix;
    if (!isCluster(client)) this.tick = new TickBatcher((asks) => this.nextMany(asks));
  }

  async next(conversation: string, count = 1): Promise<number> {
    if (this.closed) throw new CourierError('unavailable', 'sequencer: closed');
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`sequencer: count must be a positive integer, got ${count}`);
    }
    const key = `${this.prefix}seq:{${conversation}}`;
    let last = this.tick
      ? await this.tick.add({ key, count })
      : await this.eval(scripts.next, [key], [count]);
    if (last === null)
      last = await this.eval(scripts.seedAndNext, [key], [count, await this.readSeed(conversation)]);
    if (last === null)
      throw new CourierError('internal', `sequencer: no number reserved for ${conversation}`);
    return last - count + 1;
  }

  private readSeed(conversation: string): Promise<number> {
    let pending = this.seeding.get(conversation);
    if (!pending) {
      pending = this.seed(conversation)
        .then((seed) => {
          if (!Number.isSafeInteger(seed) || seed < 0) {
            throw new RangeError(
              `sequencer: seed of ${conversation} must be a non-negative integer, got ${seed}`,
            );
          }
          return seed;
        })
        .finally(() => this.seeding.delete(conversation));
      this.seeding.set(conversation, pending);
    }
    return pending;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async nextMany(asks: Array<{ key: string; count: number }>): Promise<Array<number | null>> {
    const reply = await this.evalRaw(
      scripts.nextMany,
      asks.map((a) => a.key),
      asks.map((a) => a.count),
    );
    if (!Array.isArray(reply) || reply.length !== asks.length) {
      throw new CourierError('internal', `sequencer: unexpected reply ${String(reply)}`);
    }
    return reply.map(number);
  }

  private async eval(s: LuaScript, keys: string[], args: number[]): Promise<number | null> {
    return number(await this.evalRaw(s, keys, args));
  }

  private async evalRaw(s: LuaScript, keys: string[], args: number[]): Promise<unknown> {
    return runScript(this.client, s, keys, args).catch((err: unknown) => {
      throw unavailable(err);
    });
  }
}

function number(reply: unknown): number | null {
  if (reply === null) return null;
  if (typeof reply !== 'number')
    throw new CourierError('internal', `sequencer: unexpected reply ${String(reply)}`);
  return reply;
}

function unavailable(err: unknown): CourierError {
  const message = err instanceof Error ? err.message : String(err);
  return new CourierError('unavailable', `sequencer: redis failed: ${message}`, undefined, { cause: err });
}
