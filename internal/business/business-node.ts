import type { JwtTokens } from '../auth/tokens.js';
import { ApiKeys } from '../auth/tokens.js';
import type { Config } from '../config/schema.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import { PassThroughFilter, type ContentFilter } from '../filter/filter.js';
import { advertisedHost, createApp, finishApp, listen } from '../http/app.js';
import { InternalAuth } from '../http/internal-auth.js';
import type { Logger } from '../log/logger.js';
import type { RoleNode } from '../node/lifecycle.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import type { Store } from '../store/store.js';
import { DispatchClient } from './dispatch-client.js';
import { GatewaySelector } from './gateway.js';
import { mountBusinessApi } from './http-api.js';
import { HttpAuth } from './http-auth.js';
import { MessageService } from './message-service.js';
import { ReadService } from './read-service.js';
import { mountUplinkApi } from './uplink-api.js';

export interface BusinessNodeOptions {
  id: string;
  business: Config['business'];
  apiKeys: string[];
  internalKey: string;
}

export interface BusinessNodeDeps {
  store: Store;
  sequencer: Sequencer;
  discovery: Discovery;
  tokens: JwtTokens;
  logger: Logger;
  filter?: ContentFilter;
}

/** Starts a business node: the public HTTP API and the uplink API workers call, registered in discovery. */
export async function startBusiness(
  options: BusinessNodeOptions,
  deps: BusinessNodeDeps,
): Promise<RoleNode & { http: string; port: number }> {
  const { id, business } = options;
  const logger = deps.logger.child({ component: 'business', node: id });
  const dispatcher = new DispatchClient(
    { key: options.internalKey, timeoutMs: business.dispatchTimeoutMs },
    deps.discovery,
    logger,
  );
  await dispatcher.start();
  const gateway = new GatewaySelector(deps.discovery);
  await gateway.start();

  const messages = new MessageService(
    { maxMessageBytes: business.maxMessageBytes },
    deps.store,
    deps.sequencer,
    deps.filter ?? new PassThroughFilter(),
    dispatcher,
    logger,
  );
  const reads = new ReadService(deps.store, dispatcher, logger);

  let registration: Registration | undefined;
  let draining = false;
  // A batch may carry maxBatch messages of maxMessageBytes each; single messages are checked per message.
  const app = createApp({ maxBodyBytes: business.maxBatch * (business.maxMessageBytes + 1024) });
  mountBusinessApi(app, {
    auth: new HttpAuth(new ApiKeys(options.apiKeys), deps.tokens),
    messages,
    reads,
    tokens: deps.tokens,
    gateway,
    maxBatch: business.maxBatch,
    ready: async () => {
      if (draining) return { ready: false, reason: 'draining' };
      if (!registration) return { ready: false, reason: 'not registered in discovery' };
      const [store, discovery] = await Promise.all([deps.store.ping(), deps.discovery.ping()]);
      if (!store) return { ready: false, reason: 'store does not answer' };
      if (!discovery) return { ready: false, reason: 'discovery does not answer' };
      return { ready: true };
    },
  });
  mountUplinkApi(app, new InternalAuth(options.internalKey), messages, reads);
  finishApp(app, logger);
  const server = await listen(app, business.http.host, business.http.port);

  const http = business.http.advertise || `http://${advertisedHost(business.http.host)}:${server.port}`;
  registration = await deps.discovery.register({ role: 'business', id, http });
  logger.info({ http }, 'business started');

  let closed: Promise<void> | undefined;
  return {
    role: 'business',
    id,
    http,
    port: server.port,
    async drain() {
      if (draining) return;
      draining = true;
      await registration
        ?.revoke()
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'revoke failed'));
      await server.close(); // in-flight requests finish; keep-alive sockets close when idle
    },
    close() {
      closed ??= (async () => {
        if (!draining) await server.close();
        dispatcher.close();
        gateway.close();
      })();
      return closed;
    },
  };
}
