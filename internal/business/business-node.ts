import type { JwtTokens } from '../auth/tokens.js';
import { ApiKeys } from '../auth/tokens.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import { ClientIp } from '../blacklist/client-ip.js';
import type { Config } from '../config/schema.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import type { ContentFilter } from '../filter/filter.js';
import { advertisedHost, createApp, finishApp, listen } from '../http/app.js';
import { InternalAuth } from '../http/internal-auth.js';
import type { Logger } from '../log/logger.js';
import type { RoleNode } from '../node/lifecycle.js';
import type { Registry } from '../registry/registry.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import type { Store } from '../store/store.js';
import { mountBlacklistApi, SenderBanCheck } from './blacklist-api.js';
import { mountChatApi } from './chat-api.js';
import { ConversationService } from './conversation-service.js';
import { CustomerService } from './customer-service.js';
import { DispatchClient } from './dispatch-client.js';
import { GatewaySelector } from './gateway.js';
import { mountBusinessApi } from './http-api.js';
import { HttpAuth, type HttpRateLimits } from './http-auth.js';
import { ReadService } from './read-service.js';
import { SendPolicy } from './send-policy.js';
import { SensitiveWords } from './sensitive-words-service.js';
import { mountUplinkApi } from './uplink-api.js';
import { mountWeb } from './web.js';

export interface BusinessNodeOptions {
  id: string;
  business: Config['business'];
  apiKeys: string[];
  internalKey: string;
  trustedProxies?: readonly string[]; // http.trustedProxies: whose X-Forwarded-For is believed
  banTtlSeconds?: number; // blacklist.defaultTtlSeconds: a manual ban without ttlSeconds (default 86_400)
}

export interface BusinessNodeDeps {
  store: Store;
  sequencer: Sequencer;
  discovery: Discovery;
  tokens: JwtTokens;
  logger: Logger;
  /** Live connections: agent presence for assignment, and GET /v1/users/{uid}/presence. */
  registry: Registry;
  /** Replaces the sensitive-word filter (tests, tools); GET/PUT /v1/sensitive-words then change nothing. */
  filter?: ContentFilter;
  blacklist?: Blacklist; // without one, nobody is banned and /v1/blacklist is not served
  rateLimits?: HttpRateLimits;
}

/** Starts a business node: the public HTTP API and the uplink API workers call, registered in discovery. */
export async function startBusiness(
  options: BusinessNodeOptions,
  deps: BusinessNodeDeps,
): Promise<RoleNode & { http: string; port: number }> {
  const { id, business } = options;
  const logger = deps.logger.child({ component: 'business', node: id });
  // First: a word file that cannot be read stops the start before anything runs.
  const sensitiveWords = new SensitiveWords(
    {
      file: business.sensitiveWords.file,
      mode: business.sensitiveWords.mode,
      pollMs: business.sensitiveWords.pollSeconds * 1000,
    },
    deps.store,
    logger,
  );
  const dispatcher = new DispatchClient(
    { key: options.internalKey, timeoutMs: business.dispatchTimeoutMs },
    deps.discovery,
    logger,
  );
  await dispatcher.start();
  const gateway = new GatewaySelector(deps.discovery);
  await gateway.start();

  const customerService = new CustomerService(
    { sessionIdleMs: business.sessionIdleSeconds * 1000 },
    deps.store,
    deps.registry,
    logger,
  );
  const rules = {
    customerService,
    policy: new SendPolicy({ openMessaging: business.openMessaging }, deps.store),
  };
  const messages = new SenderBanCheck(
    deps.blacklist,
    { maxMessageBytes: business.maxMessageBytes },
    deps.store,
    deps.sequencer,
    deps.filter ?? sensitiveWords.filter,
    dispatcher,
    logger,
    rules,
  );
  const reads = new ReadService(deps.store, dispatcher, logger);

  let registration: Registration | undefined;
  let draining = false;
  const auth = new HttpAuth(new ApiKeys(options.apiKeys), deps.tokens, {
    blacklist: deps.blacklist,
    limits: deps.rateLimits,
    clientIp: new ClientIp(options.trustedProxies),
    logger,
  });
  // A batch may carry maxBatch messages of maxMessageBytes each; single messages are checked per message.
  const app = createApp({ maxBodyBytes: business.maxBatch * (business.maxMessageBytes + 1024) });
  mountBusinessApi(app, {
    auth,
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
  mountChatApi(app, {
    auth,
    customerService,
    conversations: new ConversationService(deps.store, deps.registry),
    sensitiveWords,
  });
  if (deps.blacklist) {
    const { blacklist } = deps;
    const defaultTtlSeconds = options.banTtlSeconds ?? 86_400;
    mountBlacklistApi(app, { auth, blacklist, dispatch: dispatcher, logger, defaultTtlSeconds });
  }
  mountUplinkApi(app, new InternalAuth(options.internalKey), messages, reads);
  mountWeb(
    app,
    { demoLogin: business.demoLogin, demoMerchants: business.seed.merchants },
    { tokens: deps.tokens, logger },
  );
  finishApp(app, logger);
  await customerService.seed(business.seed.merchants);
  await sensitiveWords.start();
  const server = await listen(app, business.http.host, business.http.port).catch((err: unknown) => {
    sensitiveWords.close();
    throw err;
  });

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
        sensitiveWords.close();
      })();
      return closed;
    },
  };
}
