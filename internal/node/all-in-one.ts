import { randomBytes } from 'node:crypto';
import { JwtTokens } from '../auth/tokens.js';
import { startBusiness } from '../business/business-node.js';
import type { Config } from '../config/schema.js';
import { startDispatcher } from '../dispatcher/dispatcher-node.js';
import { StaticDiscovery } from '../discovery/static-discovery.js';
import type { Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { MemoryRegistry } from '../registry/memory-registry.js';
import { startWorker, type RunningWorker } from '../worker/worker-node.js';
import { Backends } from './backends.js';
import { Lifecycle, nodeId, type RoleNode } from './lifecycle.js';

export interface AllInOne {
  business: RoleNode & { http: string; port: number };
  dispatcher: RoleNode & { http: string };
  worker: RunningWorker;
  tokens: JwtTokens;
  lifecycle: Lifecycle;
  /** The process's metrics, served by every role's /metrics. */
  metrics: Metrics;
  /** Starts another worker on the same backends (tests restart workers with it); shut down with the rest. */
  startWorker(id: string): Promise<RunningWorker>;
}

/**
 * All three roles in one process on the embedded defaults (memory registry, static discovery, SQLite), still
 * talking over the real hops: HTTP to the dispatcher, a gRPC stream to the worker, WebSocket to clients.
 */
export async function startAllInOne(
  config: Config,
  logger: Logger,
  hostname: string,
  metrics: Metrics = Metrics.create(),
): Promise<AllInOne> {
  const backends = new Backends(
    config,
    logger,
    { registry: new MemoryRegistry(), discovery: new StaticDiscovery() },
    metrics.backend,
  );
  // Nothing leaves the process, so a per-run key is enough when none is configured.
  const internalKey = config.auth.internalKey || randomBytes(24).toString('base64url');
  const tokens = await JwtTokens.create(config.auth.jwt);
  const nodes: RoleNode[] = [];
  const lifecycle = new Lifecycle(nodes, backends, logger, config.shutdown.graceSeconds * 1000);
  try {
    const registry = backends.registry();
    const discovery = backends.discovery();
    const launchWorker = async (id: string) => {
      const started = await startWorker(
        {
          id,
          worker: config.worker,
          registryTtlSeconds: config.registry.ttlSeconds,
          internalKey,
          uplinkTimeoutMs: config.business.dispatchTimeoutMs,
          trustedProxies: config.http.trustedProxies,
        },
        { registry, discovery, verifier: tokens, logger, blacklist: backends.blacklist(), metrics },
      );
      nodes.push(started);
      return started;
    };
    const worker = await launchWorker(nodeId(config.node.id, 'worker', hostname));
    const dispatcher = await startDispatcher(
      { id: nodeId('', 'dispatcher', hostname), dispatcher: config.dispatcher, internalKey },
      { registry, discovery, logger, metrics },
    );
    nodes.push(dispatcher);
    const business = await startBusiness(
      {
        id: nodeId('', 'business', hostname),
        business: config.business,
        apiKeys: config.auth.apiKeys,
        internalKey,
        trustedProxies: config.http.trustedProxies,
        banTtlSeconds: config.blacklist.defaultTtlSeconds,
        adminKeys: config.auth.adminKeys,
      },
      {
        store: await backends.store(),
        sequencer: await backends.sequencer(),
        discovery,
        tokens,
        logger,
        registry,
        blacklist: backends.blacklist(),
        rateLimits: backends.rateLimits(),
        metrics,
      },
    );
    nodes.push(business);
    return { business, dispatcher, worker, tokens, lifecycle, metrics, startWorker: launchWorker };
  } catch (err) {
    await lifecycle.shutdown('start-up failed');
    throw err;
  }
}
