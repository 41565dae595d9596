// All-in-one: business, dispatcher and worker in one process on the embedded defaults (`npm start`).
import { hostname } from 'node:os';
import { createLogger } from '../../internal/log/logger.js';
import { Metrics } from '../../internal/metrics/metrics.js';
import { startAllInOne } from '../../internal/node/all-in-one.js';
import { exitOnStartFailure, loadConfigOrExit } from '../../internal/node/main.js';

const config = loadConfigOrExit();
// Each role's loggers bind their own role and node id; the root names the process mode only.
const logger = createLogger(config.log, { mode: 'all-in-one' });
try {
  const app = await startAllInOne(config, logger, hostname(), Metrics.create());
  app.lifecycle.handleSignals();
  logger.info(
    { api: app.business.http, websocket: app.worker.node.ws },
    `courier is running: API and web chat on ${app.business.http}, WebSocket on ${app.worker.node.ws}`,
  );
} catch (err) {
  exitOnStartFailure(err);
}
