// The distributed store: MySQL/MariaDB through a mysql2 pool, with an optional read replica for history.
import { Kysely, MysqlDialect, sql, type CompiledQuery, type KyselyConfig } from 'kysely';
import { createPool, type PoolOptions } from 'mysql2';
import { createPool as createPromisePool, type Pool as PromisePool } from 'mysql2/promise';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { mysqlDialect } from './dialect.js';
import { StoreConfigError } from './errors.js';
import { KyselyStore } from './kysely-store.js';
import type { OneTrip } from './message-writer.js';
import type { Database } from './schema.js';

export interface MysqlStoreOptions {
  url: string; // mysql://user:password@host:port/database
  replicaUrl: string; // '' = history reads go to the primary
  poolSize: number; // connections per pool
  groupCommitMaxRows: number;
  groupCommitLingerMs?: number | undefined;
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
  const pool = createPool(poolOptions(url, poolSize));
  return new Kysely<Database>({ dialect: new MysqlDialect({ pool }), ...(log ? { log } : {}) });
}

function poolOptions(url: string, poolSize: number): PoolOptions {
  return {
    uri: url,
    connectionLimit: poolSize,
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'utf8mb4', // ids and content may hold any Unicode, emoji included
    supportBigNumbers: true, // BIGINT past 2^53 as a string rather than a silently rounded number
  };
}

/**
 * Group commits as one multi-statement query: START TRANSACTION, the statements and COMMIT in one packet,
 * one reply. MySQL stops at the first failing statement and leaves the transaction open, so a failure is
 * followed by ROLLBACK (or, if that fails too, the connection is dropped, which rolls back). Its own pool
 * of one connection (group commit writes one batch at a time), so multipleStatements stays off for every
 * other query.
 */
export class MysqlOneTrip implements OneTrip {
  private readonly pool: PromisePool;

  constructor(url: string) {
    // trace off: mysql2's promise API otherwise captures a stack trace per query (for error stacks that end
    // at the caller), which showed in profiles of the send path; this class is the only caller.
    this.pool = createPromisePool({ ...poolOptions(url, 1), multipleStatements: true, trace: false });
  }

  async run(statements: readonly CompiledQuery[]): Promise<void> {
    const text = ['start transaction', ...statements.map((s) => s.sql), 'commit'].join(';\n');
    const params = statements.flatMap((s) => s.parameters);
    const conn = await this.pool.getConnection();
    let usable = true;
    try {
      await conn.query(text, params);
    } catch (err) {
      await conn.query('rollback').catch(() => (usable = false));
      throw err;
    } finally {
      if (usable) conn.release();
      else conn.destroy();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
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
    oneTrip: new MysqlOneTrip(options.url),
    dialect: mysqlDialect,
    groupCommitMaxRows: options.groupCommitMaxRows,
    groupCommitLingerMs: options.groupCommitLingerMs,
    logger,
  });
}
