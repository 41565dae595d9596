// The embedded store: one SQLite file, one connection, owned by one process (DESIGN §2 embedded default).
import { Kysely, type KyselyConfig } from 'kysely';
import type { Logger } from '../log/logger.js';
import { sqliteDialect } from './dialect.js';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';
import { SqliteThreadDialect } from './sqlite-thread-dialect.js';

export interface SqliteStoreOptions {
  path: string; // database file; its directory is created when missing; ':memory:' for a throwaway store
  groupCommitMaxRows: number;
  groupCommitLingerMs?: number | undefined;
}

/**
 * Opens (creating when missing) a SQLite database file as a Kysely instance. better-sqlite3 runs in a worker
 * thread: its calls are synchronous and every commit waits for an fsync, which on the main thread would
 * stall every connection of the all-in-one for the length of each commit.
 */
export function openSqlite(path: string, log?: KyselyConfig['log']): Kysely<Database> {
  return new Kysely<Database>({ dialect: new SqliteThreadDialect(path), ...(log ? { log } : {}) });
}

/** A store on a SQLite file; call `migrate()` before use (createStore does). */
export function createSqliteStore(options: SqliteStoreOptions, logger: Logger): KyselyStore {
  const dialect = new SqliteThreadDialect(options.path);
  return new KyselyStore({
    db: new Kysely<Database>({ dialect }),
    // The thread closes with the Kysely instance.
    oneTrip: { run: (statements) => dialect.transaction(statements), close: async () => {} },
    dialect: sqliteDialect,
    groupCommitMaxRows: options.groupCommitMaxRows,
    groupCommitLingerMs: options.groupCommitLingerMs,
    logger,
  });
}
