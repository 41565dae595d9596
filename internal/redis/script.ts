import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';

// Lua scripts for Redis backends: EVALSHA first, EVAL once per node that has not cached the script (a new or
// restarted Redis). Every script passes its keys explicitly, so ioredis routes it on Cluster, and all keys
// of one script must share a hash tag.

export interface LuaScript {
  readonly body: string;
  readonly sha: string;
}

export function luaScript(body: string): LuaScript {
  return { body, sha: createHash('sha1').update(body).digest('hex') };
}

export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script.body, keys.length, ...keys, ...args);
  }
}

/** Redis server time in ms, for scripts: every node of a cluster then judges expiry by the same clock. */
export const LUA_NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
