// Chooses the store driver from the config and brings its schema up to date.
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { createMysqlStore } from './mysql-store.js';
import { createSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** A migrated, ready store for `options.driver`; the logger gets a `component: store` child. */
export async function createStore(options: Config['store'], logger: Logger): Promise<Store> {
  const log = logger.child({ component: 'store', driver: options.driver });
  const { groupCommitMaxRows } = options;
  const store =
    options.driver === 'mysql'
      ? await createMysqlStore({ ...options.mysql, groupCommitMaxRows }, log)
      : createSqliteStore({ path: options.sqlite.path, groupCommitMaxRows }, log);
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
