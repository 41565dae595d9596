import { MemoryBlacklist } from '../blacklist/memory-blacklist.js';
import { RedisBlacklist } from '../blacklist/redis-blacklist.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import type { HttpRateLimits } from '../business/http-auth.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createDiscovery } from '../discovery/create-discovery.js';
import type { Discovery } from '../discovery/discovery.js';
import type { StaticDiscovery } from '../discovery/static-discovery.js';
import type { Logger } from '../log/logger.js';
import {
  meteredBlacklist,
  meteredDiscovery,
  meteredRateLimiter,
  meteredRegistry,
  meteredSequencer,
  meteredStore,
} from '../metrics/metered-backends.js';
import type { BackendMetrics } from '../metrics/metrics.js';
import { MemoryRateLimiter } from '../ratelimit/memory-rate-limiter.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import { RedisRateLimiter } from '../ratelimit/redis-rate-limiter.js';
import { createRedis, type RedisClient } from '../redis/client.js';
import { MemoryRegistry } from '../registry/memory-registry.js';
import { RedisRegistry } from '../registry/redis-registry.js';
import type { Registry } from '../registry/registry.js';
import { MemorySequencer } from '../sequencer/memory-sequencer.js';
import { RedisSequencer } from '../sequencer/redis-sequencer.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import { createStore } from '../store/create-store.js';
import type { Store } from '../store/store.js';

/**
 * Builds the backends a process needs from config, each once, and closes them in reverse order. The
 * all-in-one passes its in-process registry and discovery; a role started on its own may not use a
 * backend that cannot be shared across processes, and says so at start-up.
 */
export class Backends {
  private redisClient: RedisClient | undefined;
  private registryValue: Registry | undefined;
  private discoveryValue: Discovery | undefined;
  private storeValue: Promise<Store> | undefined;
  private sequencerValue: Sequencer | undefined;
  private blacklistValue: Blacklist | undefined;
  private rateLimitsValue: HttpRateLimits | undefined;
  private readonly closers: (() => Promise<unknown>)[] = [];

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly shared: { registry?: MemoryRegistry; discovery?: StaticDiscovery } = {},
    /** When given, every backend handed out is wrapped to time its calls (see metered-backends.ts). */
    private readonly metrics?: BackendMetrics,
  ) {}

  /** Fails fast on combinations that cannot work for `role` in a process of its own. */
  check(role: 'business' | 'dispatcher' | 'worker'): void {
    const { registry, sequencer, discovery } = this.config;
    if (!this.shared.registry && registry.driver === 'memory' && role !== 'business') {
      throw new ConfigError(
        `registry.driver: "memory" cannot be shared between processes, so a ${role} started on its own cannot use it; ` +
          'run all roles in one process with `npm start`, or set registry.driver: redis',
      );
    }
    if (!this.shared.discovery && discovery.driver === 'static') {
      const s = discovery.static;
      const needs = { business: s.dispatchers, dispatcher: s.workers, worker: s.business }[role];
      const key = { business: 'dispatchers', dispatcher: 'workers', worker: 'business' }[role];
      if (needs.length === 0) {
        throw new ConfigError(
          `discovery.static.${key}: a ${role} on its own with static discovery needs this list (or use discovery.driver: etcd)`,
        );
      }
    }
    if (role === 'business' && sequencer.driver === 'memory' && discovery.driver === 'etcd') {
      this.logger.warn('sequencer.driver "memory" is only correct with a single business node');
    }
    if (role !== 'dispatcher' && (this.config.blacklist.driver ?? registry.driver) === 'memory') {
      this.logger.warn('blacklist.driver "memory": bans made on this node are not seen by other nodes');
    }
  }

  private redis(): RedisClient {
    if (!this.redisClient) {
      const client = createRedis(this.config.redis);
      this.redisClient = client;
      this.closers.push(async () => client.quit().catch(() => client.disconnect()));
    }
    return this.redisClient;
  }

  registry(): Registry {
    if (!this.registryValue) {
      if (this.config.registry.driver === 'redis') {
        const registry = new RedisRegistry(
          {
            prefix: this.config.redis.prefix,
            ttlSeconds: this.config.registry.ttlSeconds,
            logger: this.logger.child({ component: 'registry' }),
          },
          this.redis(),
        );
        this.closers.push(() => registry.close());
        this.registryValue = registry;
      } else {
        this.registryValue = this.shared.registry ?? new MemoryRegistry();
      }
      if (this.metrics) this.registryValue = meteredRegistry(this.registryValue, this.metrics);
    }
    return this.registryValue;
  }

  discovery(): Discovery {
    if (!this.discoveryValue) {
      const discovery = createDiscovery(
        this.config.discovery,
        this.logger.child({ component: 'discovery' }),
        this.shared.discovery,
      );
      if (discovery !== this.shared.discovery) this.closers.push(() => discovery.close());
      this.discoveryValue = this.metrics ? meteredDiscovery(discovery, this.metrics) : discovery;
    }
    return this.discoveryValue;
  }

  store(): Promise<Store> {
    if (!this.storeValue) {
      const pending = createStore(this.config.store, this.logger);
      const metrics = this.metrics;
      this.storeValue = metrics ? pending.then((store) => meteredStore(store, metrics)) : pending;
      // A store that failed to open has nothing to close; its error went to whoever awaited store().
      this.closers.push(async () => (await pending.catch(() => undefined))?.close());
    }
    return this.storeValue;
  }

  async sequencer(): Promise<Sequencer> {
    if (!this.sequencerValue) {
      const store = await this.store();
      const seed = (conversation: string) => store.lastSeq(conversation);
      const sequencer =
        this.config.sequencer.driver === 'redis'
          ? new RedisSequencer({ prefix: this.config.redis.prefix }, this.redis(), seed)
          : new MemorySequencer(seed);
      this.closers.push(() => sequencer.close());
      this.sequencerValue = this.metrics ? meteredSequencer(sequencer, this.metrics) : sequencer;
    }
    return this.sequencerValue;
  }

  blacklist(): Blacklist {
    if (!this.blacklistValue) {
      const b = this.config.blacklist;
      if (b.maxBanSeconds < b.banSeconds) {
        throw new ConfigError('blacklist.maxBanSeconds: must be at least blacklist.banSeconds');
      }
      const ms = (seconds: number) => Math.round(seconds * 1000);
      const options = {
        maxConnects: b.maxConnects,
        maxConnectsPerIp: b.maxConnectsPerIp,
        windowMs: ms(b.windowSeconds),
        banMs: ms(b.banSeconds),
        extendMs: ms(b.extendSeconds),
        maxBanMs: ms(b.maxBanSeconds),
      };
      const blacklist =
        (b.driver ?? this.config.registry.driver) === 'redis'
          ? new RedisBlacklist(
              {
                ...options,
                prefix: this.config.redis.prefix,
                logger: this.logger.child({ component: 'blacklist' }),
                checkCacheMs: ms(b.checkCacheSeconds),
              },
              this.redis(),
            )
          : new MemoryBlacklist(options);
      this.closers.push(() => blacklist.close());
      this.blacklistValue = this.metrics ? meteredBlacklist(blacklist, this.metrics) : blacklist;
    }
    return this.blacklistValue;
  }

  /** The HTTP API's limits per API key and per user; a limit with perSecond 0 is left out. */
  rateLimits(): HttpRateLimits {
    if (!this.rateLimitsValue) {
      const r = this.config.ratelimit;
      const redis = (r.driver ?? this.config.registry.driver) === 'redis';
      const make = (name: 'apiKey' | 'user'): RateLimiter | undefined => {
        const rule = r[name];
        if (rule.perSecond === 0) return undefined;
        const limiter = redis
          ? new RedisRateLimiter({ ...rule, prefix: this.config.redis.prefix, name }, this.redis())
          : new MemoryRateLimiter({ ...rule, name: `ratelimit.${name}` });
        this.closers.push(() => limiter.close());
        return this.metrics
          ? meteredRateLimiter(limiter, name === 'apiKey' ? 'api_key' : 'user', this.metrics)
          : limiter;
      };
      this.rateLimitsValue = { apiKey: make('apiKey'), user: make('user') };
    }
    return this.rateLimitsValue;
  }

  /** Closes everything built here, newest first; failures are logged, never thrown. */
  async close(): Promise<void> {
    const closers = this.closers.splice(0).reverse();
    for (const close of closers) {
      await close().catch((err: unknown) => this.logger.warn({ err }, 'backend close failed'));
    }
  }
}
