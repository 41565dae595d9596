import type { JwtTokens } from '../auth/tokens.js';
import { ApiKeys } from '../auth/tokens.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import { ClientIp } from '../blacklist/client-ip.js';
import type { Config } from '../config/schema.js';
import type { Discovery, Registration } from '../discovery/discovery.js';
import type { Dispatch } from '../dispatcher/dispatch.js';
import { errorMessage } from '../errors.js';
import type { ContentFilter } from '../filter/filter.js';
import { advertisedHost, createApp, finishApp, listen } from '../http/app.js';
import { FastRoutes } from '../http/fast-routes.js';
import { InternalAuth } from '../http/internal-auth.js';
import { componentLogger, type Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { nodeStats, STATS_PATH } from '../metrics/node-stats.js';
import type { RoleNode } from '../node/lifecycle.js';
import { readiness } from '../node/readiness.js';
import type { Registry } from '../registry/registry.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import type { Store } from '../store/store.js';
import type { Uplink } from '../worker/uplink.js';
import { mountAdmin } from './admin-api.js';
import { mountBlacklistApi, SenderBanCheck } from './blacklist-api.js';
import { mountChatApi } from './chat-api.js';
import { ClusterView } from './cluster-view.js';
import { ConversationService } from './conversation-service.js';
import { CustomerService } from './customer-service.js';
import { DispatchClient } from './dispatch-client.js';
import { GatewaySelector } from './gateway.js';
import { mountBusinessApi } from './http-api.js';
import { HttpAuth, type HttpRateLimits } from './http-auth.js';
import { InProcessDispatch } from './in-process-dispatch.js';
import { ReadService } from './read-service.js';
import { SendPolicy } from './send-policy.js';
import { SensitiveWords } from './sensitive-words-service.js';
import { mountUplinkApi } from './uplink-api.js';
import { UplinkService } from './uplink-service.js';
import { mountWeb } from './web.js';

export interface BusinessNodeOptions {
  id: string;
  business: Config['business'];
  apiKeys: string[];
  internalKey: string;
  trustedProxies?: readonly string[]; // http.trustedProxies: whose X-Forwarded-For is believed
  banTtlSeconds?: number; // blacklist.defaultTtlSeconds: a manual ban without ttlSeconds (default 86_400)
  adminKeys?: string[]; // auth.adminKeys: the /admin dashboard's keys (none: its API refuses everyone)
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
  metrics?: Metrics; // the process's; a registry of its own when absent
  /**
   * A dispatcher in this process (the all-in-one): called directly, a tick's calls as one, instead of a
   * dispatcher found in discovery over HTTP.
   */
  dispatch?: Dispatch;
}

export interface RunningBusiness extends RoleNode {
  readonly http: string;
  readonly port: number;
  /** What the uplink API serves, for a worker in the same process (the all-in-one) to call without HTTP. */
  readonly uplink: Uplink;
}

/** Starts a business node: the public HTTP API and the uplink API workers call, registered in discovery. */
export async function startBusiness(
  options: BusinessNodeOptions,
  deps: BusinessNodeDeps,
): Promise<RunningBusiness> {
  const { id, business } = options;
  const logger = componentLogger(deps.logger, 'business', { id, role: 'business' });
  const metrics = deps.metrics ?? Metrics.create();
  const startedAt = Date.now();
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
  let client: DispatchClient | undefined; // the HTTP hop, unless the dispatcher runs in this process
  let dispatcher: Dispatch;
  if (deps.dispatch) {
    dispatcher = new InProcessDispatch(deps.dispatch);
  } else {
    client = new DispatchClient(
      { key: options.internalKey, timeoutMs: business.dispatchTimeoutMs },
      deps.discovery,
      logger,
    );
    await client.start();
    dispatcher = client;
  }
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
  const adminKeys = new ApiKeys(options.adminKeys ?? []);
  const auth = new HttpAuth(new ApiKeys(options.apiKeys), deps.tokens, {
    adminKeys,
    blacklist: deps.blacklist,
    limits: deps.rateLimits,
    clientIp: new ClientIp(options.trustedProxies),
    logger,
  });
  // A batch may carry maxBatch messages of maxMessageBytes each; single messages are checked per message.
  const maxBodyBytes = business.maxBatch * (business.maxMessageBytes + 1024);
  const app = createApp({ maxBodyBytes });
  const fast = new FastRoutes({ maxBodyBytes, logger });
  mountBusinessApi(app, fast, {
    auth,
    messages,
    reads,
    tokens: deps.tokens,
    gateway,
    maxBatch: business.maxBatch,
    ready: readiness({
      draining: () => draining,
      registered: () => registration !== undefined,
      backends: { store: () => deps.store.ping(), discovery: () => deps.discovery.ping() },
    }),
    metrics: metrics.business,
    logger,
  });
  const internalAuth = new InternalAuth(options.internalKey);
  const stats = () => nodeStats({ id, role: 'business', startedAt }, metrics.business.window.snapshot());
  app.get('/metrics', metrics.route);
  app.get(STATS_PATH, internalAuth.middleware, (_req, res) => {
    res.json(stats());
  });
  const cluster = new ClusterView({
    discovery: deps.discovery,
    internalKey: options.internalKey,
    self: stats,
    logger,
  });
  mountAdmin(app, { adminKeys, cluster, registry: deps.registry, dispatch: dispatcher, logger });
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
  const uplink = new UplinkService(messages, reads, metrics.business);
  mountUplinkApi(app, fast, internalAuth, uplink);
  mountWeb(
    app,
    { demoLogin: business.demoLogin, demoMerchants: business.seed.merchants },
    { tokens: deps.tokens, logger },
  );
  finishApp(app, logger);
  await customerService.seed(business.seed.merchants);
  await sensitiveWords.start();
  const server = await listen(app, business.http.host, business.http.port, fast).catch((err: unknown) => {
    sensitiveWords.close();
    throw err;
  });

  const http = business.http.advertise || `http://${advertisedHost(business.http.host)}:${server.port}`;
  registration = await deps.discovery.register({ role: 'business', id, http });
  metrics.nodeStarted('business', id, startedAt);
  logger.info({ http }, 'business started');

  let closed: Promise<void> | undefined;
  return {
    role: 'business',
    id,
    http,
    port: server.port,
    uplink,
    async drain(graceMs: number) {
      if (draining) return;
      draining = true;
      await registration
        ?.revoke()
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'revoke failed'));
      // In-flight requests finish (their sockets then close), idle keep-alive sockets close now, and
      // requests still running at the deadline are cut: the caller retries with the same clientMsgId.
      await server.close(graceMs);
    },
    close() {
      closed ??= (async () => {
        if (!draining) await server.close();
        client?.close();
        gateway.close();
        sensitiveWords.close();
      })();
      return closed;
    },
  };
}
