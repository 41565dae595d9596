// The embedded store: one SQLite file, one connection, owned by one process (DESIGN §2 embedded default).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Logger } from '../log/logger.js';
import { sqliteDialect } from './dialect.js';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

export interface SqliteStoreOptions {
  path: string; // database file; its directory is created when missing; ':memory:' for a throwaway store
  groupCommitMaxRows: number;
}

const BUSY_TIMEOUT_MS = 5_000; // wait this long for another process's write lock before SQLITE_BUSY

/** Opens (creating when missing) a SQLite database file as a Kysely instance. */
export function openSqlite(path: string): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new SQLite(path);
  database.pragma('journal_mode = WAL');
  // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power loss could drop messages
  // that were already acknowledged as durable. Group commit keeps the cost to one fsync per batch.
  database.pragma('synchronous = FULL');
  database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
}

/** A store on a SQLite file; call `migrate()` before use (createStore does). */
export function createSqliteStore(options: SqliteStoreOptions, logger: Logger): KyselyStore {
  return new KyselyStore({
    db: openSqlite(options.path),
    dialect: sqliteDialect,
    groupCommitMaxRows: options.groupCommitMaxRows,
    logger,
  });
}
