// Migrate: brings the store's schema up to date and exits (`npm run migrate -- --config configs/business.yaml`).
// Business nodes also migrate on start-up; this runs it once, ahead of a deploy, without serving anything.
import { createLogger } from '../../internal/log/logger.js';
import { Backends } from '../../internal/node/backends.js';
import { exitOnStartFailure, loadConfigOrExit } from '../../internal/node/main.js';

const config = loadConfigOrExit();
const logger = createLogger(config.log, { role: 'migrate' });
const backends = new Backends(config, logger);
try {
  await backends.store(); // createStore applies every migration not yet recorded
  logger.info({ driver: config.store.driver }, 'store schema is up to date');
  await backends.close();
} catch (err) {
  await backends.close();
  exitOnStartFailure(err);
}
