// The distributed store: MySQL/MariaDB through a mysql2 pool, with an optional read replica for history.
import { Kysely, MysqlDialect, sql, type KyselyConfig } from 'kysely';
import { createPool } from 'mysql2';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { mysqlDialect } from './dialect.js';
import { StoreConfigError } from './errors.js';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

export interface MysqlStoreOptions {
  url: string; // mysql://user:password@host:port/database
  replicaUrl: string; // '' = history reads go to the primary
  poolSize: number; // connections per pool
  groupCommitMaxRows: number;
}

const CONNECT_TIMEOUT_MS = 5_000; // an unreachable server fails start-up after this long

/** The URL without its password, for error messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function checkUrl(url: string, key: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new StoreConfigError(key, 'not a URL, expected mysql://user:password@host:port/database', {
      cause: err,
    });
  }
  if (parsed.protocol !== 'mysql:') {
    throw new StoreConfigError(key, `expected a mysql:// URL, got ${parsed.protocol}//`);
  }
  if (parsed.pathname.length <= 1) {
    throw new StoreConfigError(key, `${redactUrl(url)} names no database (mysql://host:port/database)`);
  }
}

/** A Kysely instance on a mysql2 pool; `key` is the config key named in errors about this URL. */
export function openMysql(
  url: string,
  poolSize: number,
  key: string,
  log?: KyselyConfig['log'],
): Kysely<Database> {
  checkUrl(url, key);
  const pool = createPool({
    uri: url,
    connectionLimit: poolSize,
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'utf8mb4', // ids and content may hold any Unicode, emoji included
    supportBigNumbers: true, // BIGINT past 2^53 as a string rather than a silently rounded number
  });
  return new Kysely<Database>({ dialect: new MysqlDialect({ pool }), ...(log ? { log } : {}) });
}

/** Fails with an error naming `key` when the server cannot be reached or refuses the credentials. */
export async function checkReachable(db: Kysely<Database>, url: string, key: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    throw new StoreConfigError(key, `cannot use ${redactUrl(url)}: ${errorMessage(err)}`, { cause: err });
  }
}

/** A store on MySQL/MariaDB; call `migrate()` before use (createStore does). */
export async function createMysqlStore(options: MysqlStoreOptions, logger: Logger): Promise<KyselyStore> {
  const db = openMysql(options.url, options.poolSize, 'store.mysql.url');
  let replica: Kysely<Database> | undefined;
  try {
    await checkReachable(db, options.url, 'store.mysql.url');
    if (options.replicaUrl !== '') {
      replica = openMysql(options.replicaUrl, options.poolSize, 'store.mysql.replicaUrl');
      await checkReachable(replica, options.replicaUrl, 'store.mysql.replicaUrl');
    }
  } catch (err) {
    await Promise.allSettled([db.destroy(), replica?.destroy()]);
    throw err;
  }
  return new KyselyStore({
    db,
    replica,
    dialect: mysqlDialect,
    groupCommitMaxRows: options.groupCommitMaxRows,
    logger,
  });
}
