// Worker: holds client WebSockets, receives pushes from dispatchers over gRPC, relays `send` to business.
import { hostname } from 'node:os';
import { JwtTokens } from '../../internal/auth/tokens.js';
import { createLogger } from '../../internal/log/logger.js';
import { Metrics } from '../../internal/metrics/metrics.js';
import { Backends } from '../../internal/node/backends.js';
import { Lifecycle, nodeId } from '../../internal/node/lifecycle.js';
import { exitOnStartFailure, loadConfigOrExit, requireInternalKey } from '../../internal/node/main.js';
import { startWorker, workerOptions } from '../../internal/worker/worker-node.js';

const config = loadConfigOrExit();
const id = nodeId(config.node.id, 'worker', hostname());
const logger = createLogger(config.log, { role: 'worker', node: id });
const metrics = Metrics.create(); // one registry for the process, served at /metrics
const backends = new Backends(config, logger, {}, metrics.backend);
try {
  backends.check('worker');
  const internalKey = requireInternalKey(config);
  const tokens = await JwtTokens.create(config.auth.jwt);
  const worker = await startWorker(workerOptions(config, id, internalKey), {
    registry: backends.registry(),
    discovery: backends.discovery(),
    verifier: tokens,
    logger,
    blacklist: backends.blacklist(),
    metrics,
  });
  new Lifecycle([worker], backends, logger, config.shutdown.graceSeconds * 1000).handleSignals();
} catch (err) {
  await backends.close();
  exitOnStartFailure(err);
}
