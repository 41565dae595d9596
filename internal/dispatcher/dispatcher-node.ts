import type { Config } from '../config/schema.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import { advertisedHost, createApp, finishApp, listen } from '../http/app.js';
import { InternalAuth } from '../http/internal-auth.js';
import type { Logger } from '../log/logger.js';
import type { RoleNode } from '../node/lifecycle.js';
import type { Registry } from '../registry/registry.js';
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
}

/** Starts a dispatcher: the internal dispatch API over HTTP, streams to workers, registered in discovery. */
export async function startDispatcher(
  options: DispatcherNodeOptions,
  deps: DispatcherNodeDeps,
): Promise<RoleNode & { http: string }> {
  const { id, dispatcher } = options;
  const logger = deps.logger.child({ component: 'dispatcher', node: id });
  const service = new DispatchService(
    { pushTimeoutMs: dispatcher.pushTimeoutMs },
    deps.registry,
    deps.discovery,
    logger,
  );
  await service.start();

  let registration: Registration | undefined;
  let draining = false;
  // Business batches a tick of messages per request; 64 MiB leaves room for 500 messages of 16 KiB plus framing.
  const app = createApp({ maxBodyBytes: 64 * 1024 * 1024 });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = registration !== undefined && !draining;
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not_ready', workers: service.workerCount });
  });
  mountDispatchApi(app, service, new InternalAuth(options.internalKey), () => draining);
  finishApp(app, logger);
  const server = await listen(app, dispatcher.http.host, dispatcher.http.port);

  const http = dispatcher.http.advertise || `http://${advertisedHost(dispatcher.http.host)}:${server.port}`;
  registration = await deps.discovery.register({ role: 'dispatcher', id, http });
  logger.info({ http }, 'dispatcher started');

  let closed: Promise<void> | undefined;
  return {
    role: 'dispatcher',
    id,
    http,
    async drain() {
      if (draining) return;
      draining = true;
      await registration
        ?.revoke()
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'revoke failed'));
      await server.close(); // waits for in-flight dispatch requests
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
