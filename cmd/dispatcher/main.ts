// Dispatcher: looks receivers up in the registry and forwards to the workers that hold them.
import { hostname } from 'node:os';
import { startDispatcher } from '../../internal/dispatcher/dispatcher-node.js';
import { createLogger } from '../../internal/log/logger.js';
import { Metrics } from '../../internal/metrics/metrics.js';
import { Backends } from '../../internal/node/backends.js';
import { Lifecycle, nodeId } from '../../internal/node/lifecycle.js';
import { exitOnStartFailure, loadConfigOrExit, requireInternalKey } from '../../internal/node/main.js';

const config = loadConfigOrExit();
const id = nodeId(config.node.id, 'dispatcher', hostname());
const logger = createLogger(config.log, { role: 'dispatcher', node: id });
const metrics = Metrics.create(); // one registry for the process, served at /metrics
const backends = new Backends(config, logger, {}, metrics.backend);
try {
  backends.check('dispatcher');
  const internalKey = requireInternalKey(config);
  const dispatcher = await startDispatcher(
    { id, dispatcher: config.dispatcher, internalKey },
    { registry: backends.registry(), discovery: backends.discovery(), logger, metrics },
  );
  new Lifecycle([dispatcher], backends, logger, config.shutdown.graceSeconds * 1000).handleSignals();
} catch (err) {
  await backends.close();
  exitOnStartFailure(err);
}
