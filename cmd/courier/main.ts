// All-in-one: business, dispatcher and worker in one process on the embedded defaults (`npm start`).
import { hostname } from 'node:os';
import { createLogger } from '../../internal/log/logger.js';
import { startAllInOne } from '../../internal/node/all-in-one.js';
import { exitOnStartFailure, loadConfigOrExit } from '../../internal/node/main.js';

const config = loadConfigOrExit();
const logger = createLogger(config.log, { role: 'all-in-one' });
try {
  const app = await startAllInOne(config, logger, hostname());
  app.lifecycle.handleSignals();
  logger.info(
    { api: app.business.http, websocket: app.worker.node.ws },
    `courier is running: API and web chat on ${app.business.http}, WebSocket on ${app.worker.node.ws}`,
  );
} catch (err) {
  exitOnStartFailure(err);
}
