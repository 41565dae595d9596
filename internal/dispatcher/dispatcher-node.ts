import type { Config } from '../config/schema.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import { advertisedHost, createApp, finishApp, listen, route } from '../http/app.js';
import { FastRoutes } from '../http/fast-routes.js';
import { InternalAuth } from '../http/internal-auth.js';
import { componentLogger, type Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { nodeStats, STATS_PATH } from '../metrics/node-stats.js';
import type { RoleNode } from '../node/lifecycle.js';
import { readiness, readinessAnswer } from '../node/readiness.js';
import type { Registry } from '../registry/registry.js';
import type { InProcessWorkers } from '../rpc/in-process-workers.js';
import type { Dispatch } from './dispatch.js';
import { mountDispatchApi } from './http-api.js';
import { DispatchService } from './service.js';

export interface DispatcherNodeOptions {
  id: string;
  dispatcher: Config['dispatcher'];
  internalKey: string;
}

export interface DispatcherNodeDeps {
  registry: Registry;
  discovery: Discovery;
  logger: Logger;
  metrics?: Metrics; // the process's; a registry of its own when absent
  /** Workers started in this process (the all-in-one): pushes to them are calls, not gRPC streams. */
  inProcess?: InProcessWorkers;
}

export interface RunningDispatcher extends RoleNode {
  readonly http: string;
  /** The dispatch service itself, for business in the same process (the all-in-one) to call without HTTP. */
  readonly dispatch: Dispatch;
}

/** Starts a dispatcher: the internal dispatch API over HTTP, streams to workers, registered in discovery. */
export async function startDispatcher(
  options: DispatcherNodeOptions,
  deps: DispatcherNodeDeps,
): Promise<RunningDispatcher> {
  const { id, dispatcher } = options;
  const logger = componentLogger(deps.logger, 'dispatcher', { id, role: 'dispatcher' });
  const metrics = deps.metrics ?? Metrics.create();
  const startedAt = Date.now();
  const service = new DispatchService(
    { pushTimeoutMs: dispatcher.pushTimeoutMs },
    deps.registry,
    deps.discovery,
    logger,
    { dispatcherId: id, metrics: metrics.dispatcher },
    deps.inProcess,
  );
  await service.start();

  let registration: Registration | undefined;
  let draining = false;
  // Business batches a tick of messages per request; 64 MiB leaves room for 500 messages of 16 KiB plus framing.
  const app = createApp({ maxBodyBytes: 64 * 1024 * 1024 });
  const fast = new FastRoutes({ maxBodyBytes: 64 * 1024 * 1024, logger });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const ready = readiness({
    draining: () => draining,
    registered: () => registration !== undefined,
    backends: { registry: () => deps.registry.ping(), discovery: () => deps.discovery.ping() },
  });
  app.get(
    '/readyz',
    route(async (_req, res) => {
      const { status, body } = readinessAnswer(await ready());
      res.status(status).json({ ...body, workers: service.workerCount });
    }),
  );
  app.get('/metrics', metrics.route);
  const internalAuth = new InternalAuth(options.internalKey);
  app.get(STATS_PATH, internalAuth.middleware, (_req, res) => {
    res.json(nodeStats({ id, role: 'dispatcher', startedAt }, metrics.dispatcher.window.snapshot()));
  });
  mountDispatchApi(fast, service, internalAuth, () => draining);
  finishApp(app, logger);
  const server = await listen(app, dispatcher.http.host, dispatcher.http.port, fast);

  const http = dispatcher.http.advertise || `http://${advertisedHost(dispatcher.http.host)}:${server.port}`;
  registration = await deps.discovery.register({ role: 'dispatcher', id, http });
  metrics.nodeStarted('dispatcher', id, startedAt);
  logger.info({ http }, 'dispatcher started');

  let closed: Promise<void> | undefined;
  return {
    role: 'dispatcher',
    id,
    http,
    dispatch: service,
    async drain(graceMs: number) {
      if (draining) return;
      draining = true;
      await registration
        ?.revoke()
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'revoke failed'));
      await server.close(graceMs); // in-flight dispatch requests finish, or are cut at the deadline
    },
    close() {
      closed ??= (async () => {
        if (!draining) await server.close();
        await service.close();
      })();
      return closed;
    },
  };
}
