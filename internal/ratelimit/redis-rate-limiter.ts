import { CourierError, errorMessage } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import { LUA_NOW_MS, luaScript, runScript } from '../redis/script.js';
import { checkRule, fullAfterMs, type RateLimiter, type RateRule, type RateVerdict } from './rate-limiter.js';

// takeToken of rate-limiter.ts in Lua, on the Redis server's clock so every business node shares one
// bucket per id. The bucket is a hash {tokens, at} that expires once it would be full again anyway.
const TAKE = luaScript(`${LUA_NOW_MS}
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return wait`);

export interface RedisRateLimiterOptions extends RateRule {
  prefix: string; // key prefix of DESIGN §5, e.g. `courier:`
  name: string; // the limit's name in keys and errors: `${prefix}rate:${name}:{id}`
}

/** Buckets shared by every node. The client is injected and stays its creator's. */
export class RedisRateLimiter implements RateLimiter {
  private readonly rule: RateRule;
  private readonly keyHead: string;
  private readonly ttlMs: number;
  private closed = false;

  constructor(
    options: RedisRateLimiterOptions,
    private readonly client: RedisClient,
  ) {
    this.rule = checkRule({ perSecond: options.perSecond, burst: options.burst }, options.name);
    this.keyHead = `${options.prefix}rate:${options.name}:`;
    this.ttlMs = fullAfterMs(this.rule) + 1_000;
  }

  async take(id: string): Promise<RateVerdict> {
    if (this.closed) throw new CourierError('unavailable', 'rate limiter: closed');
    let wait: unknown;
    try {
      const args = [this.rule.perSecond, this.rule.burst, this.ttlMs];
      wait = await runScript(this.client, TAKE, [`${this.keyHead}{${id}}`], args);
    } catch (err) {
      throw new CourierError('unavailable', `rate limiter: redis failed: ${errorMessage(err)}`, undefined, {
        cause: err,
      });
    }
    return typeof wait === 'number' && wait > 0 ? { ok: false, retryAfterMs: wait } : { ok: true };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
