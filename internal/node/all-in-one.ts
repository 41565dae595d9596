import { randomBytes } from 'node:crypto';
import { JwtTokens } from '../auth/tokens.js';
import { startBusiness, type RunningBusiness } from '../business/business-node.js';
import type { Config } from '../config/schema.js';
import { startDispatcher, type RunningDispatcher } from '../dispatcher/dispatcher-node.js';
import { StaticDiscovery } from '../discovery/static-discovery.js';
import type { Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { MemoryRegistry } from '../registry/memory-registry.js';
import type { Registry } from '../registry/registry.js';
import { InProcessWorkers } from '../rpc/in-process-workers.js';
import { startWorker, workerOptions, type RunningWorker } from '../worker/worker-node.js';
import { Backends } from './backends.js';
import { Lifecycle, nodeId, type RoleNode } from './lifecycle.js';

export interface AllInOne {
  business: RunningBusiness;
  dispatcher: RunningDispatcher;
  worker: RunningWorker;
  tokens: JwtTokens;
  lifecycle: Lifecycle;
  /** The process's metrics, served by every role's /metrics. */
  metrics: Metrics;
  /** The connection registry all three roles share (tests plant stale entries in it). */
  registry: Registry;
  /** Starts another worker on the same backends (tests restart workers with it); shut down with the rest. */
  startWorker(id: string): Promise<RunningWorker>;
}

/**
 * All three roles in one process on the embedded defaults (memory registry, static discovery, SQLite). By
 * default they talk over the real hops, as separate processes would: HTTP to the dispatcher, a gRPC stream to
 * the worker, HTTP from the worker back to business. With `node.inProcessHops` they call each other
 * in-process, with nothing serialised between them: business calls the dispatch service (a tick's calls as
 * one), the dispatcher hands pushes to its workers' delivery, and the workers' `send`, `sync` and `read`
 * frames go to business' uplink service. Every role serves its HTTP and gRPC ports either way (metrics,
 * /readyz, nodes in other processes), and a push to a worker in another process always goes over gRPC.
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
    const inProcess = config.node.inProcessHops ? new InProcessWorkers() : undefined;
    // Each role needs the one before it: business calls the dispatcher, workers call business.
    const dispatcher = await startDispatcher(
      { id: nodeId('', 'dispatcher', hostname), dispatcher: config.dispatcher, internalKey },
      { registry, discovery, logger, metrics, inProcess },
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
        ...(inProcess && { dispatch: dispatcher.dispatch }),
      },
    );
    nodes.push(business);
    const launchWorker = async (id: string) => {
      const started = await startWorker(workerOptions(config, id, internalKey), {
        registry,
        discovery,
        verifier: tokens,
        logger,
        blacklist: backends.blacklist(),
        metrics,
        ...(inProcess && { uplink: business.uplink, inProcess }),
      });
      nodes.push(started);
      return started;
    };
    const worker = await launchWorker(nodeId(config.node.id, 'worker', hostname));
    return {
      business,
      dispatcher,
      worker,
      tokens,
      lifecycle,
      metrics,
      registry,
      startWorker: launchWorker,
    };
  } catch (err) {
    await lifecycle.shutdown('start-up failed');
    throw err;
  }
}
