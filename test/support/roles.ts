// The three roles started one by one in this process, each with its own metrics registry, as separate
// processes would have: for tests of what each role serves on its own port (/metrics, /readyz). They share
// an in-process registry and discovery (which a test may wrap to hold registrations or fail pings) and one
// SQLite store; the hops between them are the real ones (HTTP, gRPC, WebSocket).
import { randomBytes } from 'node:crypto';
import { JwtTokens } from '../../internal/auth/tokens.js';
import { startBusiness } from '../../internal/business/business-node.js';
import type { Config } from '../../internal/config/schema.js';
import { startDispatcher } from '../../internal/dispatcher/dispatcher-node.js';
import type { Discovery } from '../../internal/discovery/discovery.js';
import { StaticDiscovery } from '../../internal/discovery/static-discovery.js';
import { silentLogger, type Logger } from '../../internal/log/logger.js';
import {
  meteredBlacklist,
  meteredRateLimiter,
  meteredRegistry,
  meteredStore,
} from '../../internal/metrics/metered-backends.js';
import { Metrics } from '../../internal/metrics/metrics.js';
import { Backends } from '../../internal/node/backends.js';
import type { RoleNode } from '../../internal/node/lifecycle.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import type { Registry } from '../../internal/registry/registry.js';
import { startWorker, type RunningWorker } from '../../internal/worker/worker-node.js';
import { testConfig } from './courier.js';
import { tempDir } from './servers.js';

export interface RoleSet {
  config: Config;
  tokens: JwtTokens;
  internalKey: string;
  registry: MemoryRegistry;
  discovery: StaticDiscovery;
  backends: Backends;
  logger: Logger;
  /** Every node started through this set, stopped by stop(). */
  nodes: RoleNode[];
  stop(): Promise<void>;
}

export async function roleSet(
  overrides: Record<string, unknown> = {},
  logger: Logger = silentLogger(),
): Promise<RoleSet> {
  const dir = tempDir('roles');
  const config = testConfig(dir.path, overrides);
  const registry = new MemoryRegistry();
  const discovery = new StaticDiscovery();
  const backends = new Backends(config, logger, { registry, discovery });
  const nodes: RoleNode[] = [];
  return {
    config,
    tokens: await JwtTokens.create(config.auth.jwt),
    internalKey: randomBytes(24).toString('base64url'),
    registry,
    discovery,
    backends,
    logger,
    nodes,
    async stop() {
      for (const role of ['worker', 'dispatcher', 'business'] as const) {
        await Promise.allSettled(nodes.filter((n) => n.role === role).map((n) => n.drain(0)));
      }
      await Promise.allSettled(nodes.map((n) => n.close()));
      await backends.close();
      dir.remove();
    },
  };
}

/** What a test may put in place of the shared backends for one node. */
export interface NodeOverrides {
  discovery?: Discovery;
  registry?: Registry;
  metrics?: Metrics;
}

export async function worker(set: RoleSet, id: string, o: NodeOverrides = {}): Promise<RunningWorker> {
  const metrics = o.metrics ?? Metrics.create();
  const { config } = set;
  const node = await startWorker(
    {
      id,
      worker: config.worker,
      registryTtlSeconds: config.registry.ttlSeconds,
      internalKey: set.internalKey,
      uplinkTimeoutMs: config.business.dispatchTimeoutMs,
    },
    {
      registry: meteredRegistry(o.registry ?? set.registry, metrics.backend),
      discovery: o.discovery ?? set.discovery,
      verifier: set.tokens,
      logger: set.logger,
      blacklist: meteredBlacklist(set.backends.blacklist(), metrics.backend),
      metrics,
    },
  );
  set.nodes.push(node);
  return node;
}

export async function dispatcher(
  set: RoleSet,
  id: string,
  o: NodeOverrides = {},
): Promise<RoleNode & { http: string }> {
  const metrics = o.metrics ?? Metrics.create();
  const node = await startDispatcher(
    { id, dispatcher: set.config.dispatcher, internalKey: set.internalKey },
    {
      registry: meteredRegistry(o.registry ?? set.registry, metrics.backend),
      discovery: o.discovery ?? set.discovery,
      logger: set.logger,
      metrics,
    },
  );
  set.nodes.push(node);
  return node;
}

export async function business(
  set: RoleSet,
  id: string,
  o: NodeOverrides = {},
): Promise<RoleNode & { http: string; port: number }> {
  const metrics = o.metrics ?? Metrics.create();
  const { config } = set;
  const limits = set.backends.rateLimits();
  const node = await startBusiness(
    {
      id,
      business: config.business,
      apiKeys: config.auth.apiKeys,
      adminKeys: config.auth.adminKeys,
      internalKey: set.internalKey,
    },
    {
      store: meteredStore(await set.backends.store(), metrics.backend),
      sequencer: await set.backends.sequencer(),
      discovery: o.discovery ?? set.discovery,
      tokens: set.tokens,
      logger: set.logger,
      registry: o.registry ?? set.registry,
      blacklist: meteredBlacklist(set.backends.blacklist(), metrics.backend),
      rateLimits: {
        apiKey: limits.apiKey && meteredRateLimiter(limits.apiKey, 'api_key', metrics.backend),
        user: limits.user && meteredRateLimiter(limits.user, 'user', metrics.backend),
      },
      metrics,
    },
  );
  set.nodes.push(node);
  return node;
}

/** The HTTP base of a worker's WebSocket server (its /healthz, /readyz, /metrics). */
export function workerHttp(node: RunningWorker): string {
  const url = new URL(node.node.ws);
  return `http://${url.host}`;
}
