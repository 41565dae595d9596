// Business: the public HTTP API; applies the chat rules, stores each message, then calls a dispatcher (with
// `business.embedDispatcher`, one that runs in this process).
import { hostname } from 'node:os';
import { JwtTokens } from '../../internal/auth/tokens.js';
import { startBusiness } from '../../internal/business/business-node.js';
import { startDispatcher } from '../../internal/dispatcher/dispatcher-node.js';
import { createLogger } from '../../internal/log/logger.js';
import { Metrics } from '../../internal/metrics/metrics.js';
import { Backends } from '../../internal/node/backends.js';
import { Lifecycle, nodeId } from '../../internal/node/lifecycle.js';
import { exitOnStartFailure, loadConfigOrExit, requireInternalKey } from '../../internal/node/main.js';

const config = loadConfigOrExit();
const id = nodeId(config.node.id, 'business', hostname());
const logger = createLogger(config.log, { role: 'business', node: id });
const metrics = Metrics.create(); // one registry for the process, served at /metrics
const backends = new Backends(config, logger, {}, metrics.backend);
try {
  backends.check('business');
  const internalKey = requireInternalKey(config);
  const tokens = await JwtTokens.create(config.auth.jwt);
  const dispatcher = config.business.embedDispatcher
    ? await startDispatcher(
        { id: `${id}-dispatcher`, dispatcher: config.dispatcher, internalKey },
        { registry: backends.registry(), discovery: backends.discovery(), logger, metrics },
      )
    : undefined;
  const business = await startBusiness(
    {
      id,
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
      discovery: backends.discovery(),
      tokens,
      logger,
      registry: backends.registry(),
      blacklist: backends.blacklist(),
      rateLimits: backends.rateLimits(),
      metrics,
      ...(dispatcher && { dispatch: dispatcher.dispatch }),
    },
  );
  const nodes = dispatcher ? [dispatcher, business] : [business];
  new Lifecycle(nodes, backends, logger, config.shutdown.graceSeconds * 1000).handleSignals();
} catch (err) {
  await backends.close();
  exitOnStartFailure(err);
}
