import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from '../config/load.js';
import type { RedisConfig } from '../config/schema.js';

// One place that turns the `redis` config section into an ioredis client, plus the two batching helpers every
// Redis backend needs (per-node pipelines and a SCAN over every master), so backends only write their commands.
//
// Ownership rule: whoever calls createRedis owns the client and quits it, after every component using it has
// closed. Components (registry, sequencer, blacklist) take the client injected and never quit it.

export type RedisClient = Redis | Cluster;

const connectTimeoutMs = 5_000; // a black-holed host fails a connection attempt after this long
const maxRetriesPerRequest = 2; // reconnect attempts a command waits through before it fails with an error
const maxRedirections = 16; // MOVED/ASK hops per command on Cluster (ioredis default, written down)

/** `host:port` or `[ipv6]:port`; `key` names the config entry in the error. */
export function parseHostPort(value: string, key: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || !host || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ConfigError(`${key}: expected host:port, got ${JSON.stringify(value)}`);
  }
  return { host, port };
}

function parseNodes(config: RedisConfig): { host: string; port: number }[] {
  if (config.nodes.length === 0) {
    throw new ConfigError(`redis.nodes: ${config.mode} mode needs at least one host:port`);
  }
  return config.nodes.map((node, i) => parseHostPort(node, `redis.nodes[${i}]`));
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ConfigError(`redis.url: not a valid URL: ${JSON.stringify(url)}`, { cause: err });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigError(`redis.url: expected redis:// or rediss://, got ${JSON.stringify(url)}`);
  }
  if (!parsed.hostname) throw new ConfigError(`redis.url: no host in ${JSON.stringify(url)}`);
}

/**
 * A connected (not lazy) client for the configured mode. Auto-pipelining is on because courier issues many
 * small independent commands per tick (INCRBY per send, ban checks per connect); ioredis then writes them as
 * one pipeline per node. Bounded retries make a dead Redis surface as a rejected command, not a hang.
 */
export function createRedis(config: RedisConfig): RedisClient {
  const password = config.password || undefined; // empty = no AUTH (or the URL's own password)
  const common: RedisOptions = {
    lazyConnect: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest,
    connectTimeout: connectTimeoutMs,
  };
  switch (config.mode) {
    case 'standalone':
      checkUrl(config.url);
      return new Redis(config.url, password === undefined ? common : { ...common, password });
    case 'sentinel':
      // The password is the master's; sentinels are expected to run without AUTH.
      return new Redis({ ...common, sentinels: parseNodes(config), name: config.sentinelName, password });
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: false,
        enableAutoPipelining: true,
        maxRedirections,
        redisOptions: { password, maxRetriesPerRequest, connectTimeout: connectTimeoutMs },
      };
      const cluster = new Cluster(parseNodes(config), options);
      // ioredis holds a Cluster's commands in its offline queue until the cluster is back, however long that
      // takes (ioredis#1604): maxRetriesPerRequest only bounds single-node connections. Queueing helps only
      // while the first connection is made, so after that a cluster that is down rejects commands at once.
      cluster.once('ready', () => (cluster.options.enableOfflineQueue = false));
      return cluster;
    }
  }
}

export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}

/** Redis Cluster's key slot (CRC16/XMODEM of the hash tag, or the whole key), as ioredis computes it. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const tagged = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(tagged, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

export type Reply = [error: Error | null, result: unknown];

async function execPipeline(
  client: RedisClient,
  keys: readonly string[],
  queue: (pipeline: ChainableCommander, key: string) => void,
): Promise<Reply[][]> {
  const pipeline = client.pipeline();
  const counts = keys.map((key) => {
    const before = pipeline.length;
    queue(pipeline, key);
    return pipeline.length - before;
  });
  let replies: Reply[];
  try {
    replies = (await pipeline.exec()) ?? [];
  } catch (err) {
    // A rejected pipeline (connection lost, slot map changed under it) fails each of its keys.
    const error = err instanceof Error ? err : new Error(String(err));
    replies = counts.flatMap((n) => Array.from({ length: n }, (): Reply => [error, null]));
  }
  let at = 0;
  return counts.map((n) => replies.slice(at, (at += n)));
}

/**
 * Runs `queue(pipeline, key)` for every key in as few round trips as Redis allows and returns each key's
 * replies in order: one pipeline on a single server, one per master on Cluster, where ioredis refuses a
 * pipeline whose keys live on different nodes. Grouping follows the client's slot map; a key whose replies
 * carry an error there (MOVED during a reshard, a failover) is re-sent alone once, which ioredis redirects,
 * so the queued commands must be idempotent.
 */
export async function pipelineByNode(
  client: RedisClient,
  keys: readonly string[],
  queue: (pipeline: ChainableCommander, key: string) => void,
): Promise<Reply[][]> {
  if (keys.length === 0) return [];
  if (!isCluster(client)) return execPipeline(client, keys, queue);

  // Without a slot map yet, each key goes alone; ioredis holds those until the cluster is ready.
  const groups = new Map<string, number[]>();
  keys.forEach((key, i) => {
    const nodes = client.slots[keySlot(key)];
    const group = nodes && nodes.length > 0 ? nodes.join(',') : `alone:${i}`;
    let members = groups.get(group);
    if (!members) groups.set(group, (members = []));
    members.push(i);
  });
  const out: Reply[][] = new Array<Reply[]>(keys.length);
  await Promise.all(
    [...groups.values()].map(async (members) => {
      const replies = await execPipeline(
        client,
        members.map((i) => keys[i] as string),
        queue,
      );
      members.forEach((keyIndex, j) => (out[keyIndex] = replies[j] ?? []));
    }),
  );
  const failed = keys.flatMap((key, i) => (out[i]?.some(([err]) => err) ? [{ key, i }] : []));
  await Promise.all(
    failed.map(async ({ key, i }) => {
      const [replies] = await execPipeline(client, [key], queue);
      out[i] = replies ?? [];
    }),
  );
  return out;
}

/**
 * Every key matching `pattern`, batch by batch, on every master. O(keys in Redis): for start-up and cleanup
 * jobs only, never a request path.
 */
export async function scanKeys(
  client: RedisClient,
  pattern: string,
  onBatch: (keys: string[]) => Promise<void>,
): Promise<void> {
  if (isCluster(client) && client.slots.length === 0) await client.ping(); // waits for the node list
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await onBatch(keys);
    } while (cursor !== '0');
  }
}

/** Escapes glob characters so a prefix matches itself literally in SCAN MATCH. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
