// Chooses the store driver from the config and brings its schema up to date.
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { KyselyStore } from './kysely-store.js';
import { createMysqlStore } from './mysql-store.js';
import { createSqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

async function open(options: Config['store'], logger: Logger): Promise<KyselyStore> {
  const { driver, groupCommitMaxRows, groupCommitLingerMs } = options;
  switch (driver) {
    case 'sqlite':
      return createSqliteStore(
        { path: options.sqlite.path, groupCommitMaxRows, groupCommitLingerMs },
        logger,
      );
    case 'mysql':
      return createMysqlStore({ ...options.mysql, groupCommitMaxRows, groupCommitLingerMs }, logger);
    default:
      throw new Error(`store.driver: unknown driver ${String(driver satisfies never)}`);
  }
}

/** A migrated, ready store for `options.driver`; logs under a `component: store` child logger. */
export async function createStore(options: Config['store'], logger: Logger): Promise<Store> {
  const store = await open(options, logger.child({ component: 'store', driver: options.driver }));
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
