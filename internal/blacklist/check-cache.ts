import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../redis/client.js';
import type { Ban } from './blacklist.js';

// Past this many remembered subjects the oldest is dropped: a node sees a bounded set of hot senders, and a
// miss only costs the read the cache saves.
const MAX_ENTRIES = 100_000;
const RECONNECT_MS = 1_000; // between subscriber connections; checks read Redis meanwhile

/**
 * The answers of recent ban checks on this node, so that a sender's every message does not cost a Redis
 * round trip and a stage of the send path (docs/BENCHMARKS.md, "Ban checks from memory"). The Redis scripts
 * that change a ban (ban, unban, a fresh automatic ban) publish its key on `channel` in the same atomic step
 * as the write, and every node drops that entry when it hears it. Three rules keep an answer from outliving
 * the truth:
 * - nothing is remembered while this node's subscription is down, and everything is forgotten when it
 *   drops, since what was published meanwhile is lost;
 * - a read is remembered only if no change was heard between its start and its answer (`version`): a read
 *   answered before a ban's write may arrive after the ban's message;
 * - an entry lives at most `maxAgeMs`, a ban no longer than itself: the bound if a message is ever lost in a
 *   way no connection event reports.
 * A ban's extension by attempts is not announced: it only lengthens a ban, and an entry that ends with the
 * old expiry is read again then.
 */
export class CheckCache {
  // In the order remembered (a key remembered again moves to the end), so the oldest are always first.
  private readonly entries = new Map<string, { ban: Ban | null; until: number; at: number }>();
  private generation = 0;
  private listening = false;
  private closed = false;
  private subscriber: Redis | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    private readonly maxAgeMs: number,
    private readonly logger?: Logger,
  ) {
    this.connect();
    // A worker checks every uid that connects, once: without a sweep those answers would stay until evicted.
    this.sweeper = setInterval(() => this.sweep(), maxAgeMs).unref();
  }

  /** Whether answers are remembered now: false until the subscription is up and while it is down. */
  get active(): boolean {
    return this.listening;
  }

  /** The remembered answer for a ban key, or undefined when it has to be read. */
  get(key: string): Ban | null | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.ban;
    this.entries.delete(key);
    return undefined;
  }

  /** Taken before a read and handed to remember() with its answer. */
  get version(): number {
    return this.generation;
  }

  remember(key: string, ban: Ban | null, version: number): void {
    if (!this.listening || version !== this.generation) return;
    const at = Date.now();
    const until = Math.min(at + this.maxAgeMs, ban ? ban.expiresAt : Infinity);
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { ban, until, at });
  }

  /** A change to this key, made here or heard from another node. */
  forget(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.sweeper);
    this.deafen();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  /**
   * One subscriber connection that never reconnects by itself: when it ends, this node stops remembering and
   * opens a new one (on Cluster, to a master picked afresh). ioredis's own reconnects, and a Cluster client's
   * move of its subscriber to another node, happen without an event, and so without the forgetting they need.
   */
  private connect(): void {
    if (this.closed) return;
    const subscriber = subscriberFor(this.client);
    if (!subscriber) {
      this.retry = setTimeout(() => this.connect(), RECONNECT_MS).unref();
      return;
    }
    this.subscriber = subscriber;
    subscriber.on('message', (from: string, key: string) => {
      if (from === this.channel) this.forget(key);
    });
    subscriber.on('error', (err: unknown) =>
      this.logger?.debug({ err: errorMessage(err) }, 'ban-change subscription error'),
    );
    // With no retry strategy every close is followed at once by 'end' (ioredis's closeHandler).
    subscriber.once('end', () => {
      this.deafen();
      if (!this.closed) this.retry = setTimeout(() => this.connect(), RECONNECT_MS).unref();
    });
    // Remembering starts once Redis has answered SUBSCRIBE: every change published after that reaches us.
    subscriber.subscribe(this.channel).then(
      () => {
        if (this.closed || this.subscriber !== subscriber || subscriber.status !== 'ready') return;
        this.generation++;
        this.listening = true;
      },
      (err: unknown) => {
        this.logger?.warn({ err: errorMessage(err) }, 'ban-change subscription failed');
        subscriber.disconnect(); // ends it, and 'end' tries again
      },
    );
  }

  /** Drops the answers older than maxAgeMs, from the oldest until the first younger one. */
  private sweep(): void {
    const oldest = Date.now() - this.maxAgeMs;
    for (const [key, entry] of this.entries) {
      if (entry.at > oldest) return;
      this.entries.delete(key);
    }
  }

  /** How many answers are held (for tests of the sweep). */
  get size(): number {
    return this.entries.size;
  }

  private deafen(): void {
    this.listening = false;
    this.generation++;
    this.entries.clear();
  }
}

/** A new connection for SUBSCRIBE to the client's server (any master of a Cluster), or none yet. */
function subscriberFor(client: RedisClient): Redis | undefined {
  const once = { retryStrategy: () => null, enableAutoPipelining: false };
  if (!isCluster(client)) return client.duplicate(once);
  const masters = client.nodes('master');
  const node = masters[Math.floor(Math.random() * masters.length)];
  return node?.duplicate(once);
}
