import type { Blacklist } from '../blacklist/blacklist.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { Registry } from '../registry/registry.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import type { Store } from '../store/store.js';
import type { BackendMetrics, RateLimitScope } from './metrics.js';

// Decorators that time every call of a backend interface and count its failures, applied once where the
// backends are built (node/backends.ts), so no implementation (memory, Redis, etcd, SQLite, MySQL) carries
// metrics code of its own. Each operation list is checked against its interface by the compiler: a method
// added to an interface and not listed here is a type error, not an unmeasured call.

type Ops<T> = Record<keyof T, true>;

const REGISTRY_OPS: Ops<Registry> = {
  add: true,
  remove: true,
  lookup: true,
  refresh: true,
  removeWorker: true,
  checkpoint: true,
  ping: true,
  close: true,
};
const STORE_OPS: Ops<Store> = {
  migrate: true,
  ensureConversation: true,
  getConversation: true,
  setAgent: true,
  append: true,
  findByClientMsgId: true,
  history: true,
  lastSeq: true,
  listConversations: true,
  markRead: true,
  setMerchantAgents: true,
  getMerchantAgents: true,
  openSessions: true,
  assignCustomerService: true,
  agentMerchants: true,
  sharesConversation: true,
  getSensitiveWords: true,
  setSensitiveWords: true,
  sensitiveWordsVersion: true,
  ping: true,
  close: true,
};
const DISCOVERY_OPS: Ops<Discovery> = {
  register: true,
  list: true,
  watch: true,
  ping: true,
  close: true,
};
const REGISTRATION_OPS: Ops<Registration> = { update: true, revoke: true };
const SEQUENCER_OPS: Ops<Sequencer> = { next: true, close: true };
const BLACKLIST_OPS: Ops<Blacklist> = {
  ban: true,
  unban: true,
  check: true,
  attempt: true,
  list: true,
  close: true,
};
const RATE_LIMITER_OPS: Ops<RateLimiter> = { take: true, close: true };

/** A copy of `target` whose listed async methods are timed under `backend`/<method name>. */
function metered<T extends object>(target: T, backend: string, ops: Ops<T>, metrics: BackendMetrics): T {
  const out: Record<string, unknown> = {};
  for (const op of Object.keys(ops)) {
    const method = (target as Record<string, unknown>)[op];
    if (typeof method !== 'function') throw new TypeError(`${backend}.${op} is not a method`);
    const { duration, errors } = metrics.op(backend, op);
    out[op] = (...args: unknown[]) => {
      const started = performance.now();
      const done = () => duration.observe((performance.now() - started) / 1000);
      return (method.apply(target, args) as Promise<unknown>).then(
        (value) => {
          done();
          return value;
        },
        (err: unknown) => {
          done();
          errors.inc();
          throw err;
        },
      );
    };
  }
  return out as T;
}

export function meteredRegistry(registry: Registry, metrics: BackendMetrics): Registry {
  return metered(registry, 'registry', REGISTRY_OPS, metrics);
}

export function meteredStore(store: Store, metrics: BackendMetrics): Store {
  return metered(store, 'store', STORE_OPS, metrics);
}

export function meteredSequencer(sequencer: Sequencer, metrics: BackendMetrics): Sequencer {
  return metered(sequencer, 'sequencer', SEQUENCER_OPS, metrics);
}

export function meteredDiscovery(discovery: Discovery, metrics: BackendMetrics): Discovery {
  const timed = metered(discovery, 'discovery', DISCOVERY_OPS, metrics);
  return {
    ...timed,
    register: async (node) =>
      metered(await timed.register(node), 'discovery_lease', REGISTRATION_OPS, metrics),
  };
}

/** Also counts bans started (by hand or automatically) and the checks and attempts a ban refused. */
export function meteredBlacklist(blacklist: Blacklist, metrics: BackendMetrics): Blacklist {
  const timed = metered(blacklist, 'blacklist', BLACKLIST_OPS, metrics);
  return {
    ...timed,
    ban: async (kind, id, ttlMs, reason) => {
      const ban = await timed.ban(kind, id, ttlMs, reason);
      metrics.banned(kind, 'manual');
      return ban;
    },
    check: async (subject) => {
      const ban = await timed.check(subject);
      if (ban) metrics.refused(ban.kind);
      return ban;
    },
    attempt: async (subject) => {
      const verdict = await timed.attempt(subject);
      if (!verdict.ok) {
        // The attempt that went over the connection-rate limit starts the ban; later ones hit it.
        if (verdict.fresh) {
          metrics.banned(verdict.ban.kind, 'auto');
          metrics.shared.rateLimited.ws_connects.inc();
        } else {
          metrics.refused(verdict.ban.kind);
        }
      }
      return verdict;
    },
  };
}

/** Also counts the requests the limiter refused, under its scope. */
export function meteredRateLimiter(
  limiter: RateLimiter,
  scope: RateLimitScope,
  metrics: BackendMetrics,
): RateLimiter {
  const timed = metered(limiter, 'ratelimit', RATE_LIMITER_OPS, metrics);
  const refused = metrics.shared.rateLimited[scope];
  return {
    ...timed,
    take: async (id) => {
      const verdict = await timed.take(id);
      if (!verdict.ok) refused.inc();
      return verdict;
    },
  };
}
