// Everything that differs between SQLite and MySQL/MariaDB, kept here so the repository runs one code path.
import {
  sql,
  type ColumnDataType,
  type Expression,
  type Kysely,
  type RawBuilder,
  type Transaction,
} from 'kysely';
import type { Logger } from '../log/logger.js';

export interface StoreDialect {
  readonly name: 'sqlite' | 'mysql';
  /** True for a unique or primary-key violation. */
  isUniqueViolation(err: unknown): boolean;
  /** True for errors that go away when the transaction is simply run again (deadlock, lock timeout). */
  isRetryable(err: unknown): boolean;
  /** Appended to an INSERT so that a row whose key exists is skipped; `column` is any column of the table. */
  ignoreDuplicates(column: string): RawBuilder<unknown>;
  /** Whether `SELECT … FOR UPDATE` exists; SQLite has one writer per file and does not need it. */
  readonly rowLocks: boolean;
  /** Column type for JSON text that may exceed 64 KiB (receivers of a large group, big custom content). */
  readonly longText: ColumnDataType | Expression<unknown>;
  /** Appended to CREATE TABLE. */
  readonly tableOptions: RawBuilder<unknown> | null;
  /** The SQL function giving the larger of two numbers (SQLite's two-argument max, MySQL's greatest). */
  readonly greatest: 'max' | 'greatest';
  /**
   * Whether `UPDATE t SET … FROM (VALUES …) AS v WHERE …` exists and is the fast way to give many rows their
   * own values (SQLite). Without it (MySQL), one CASE over the keys does it: MariaDB materialises a joined
   * derived table slower than it evaluates a CASE (measured, message-writer.ts).
   */
  readonly updateFromValues: boolean;
}

function errorField(err: unknown, field: 'code' | 'errno'): unknown {
  return typeof err === 'object' && err !== null && field in err
    ? (err as Record<string, unknown>)[field]
    : undefined;
}

export const sqliteDialect: StoreDialect = {
  name: 'sqlite',
  isUniqueViolation: (err) => {
    const code = errorField(err, 'code');
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  },
  // One connection per process serialises all transactions; busy_timeout covers other processes.
  isRetryable: () => false,
  ignoreDuplicates: () => sql`on conflict do nothing`,
  rowLocks: false,
  longText: 'text',
  tableOptions: null,
  greatest: 'max',
  updateFromValues: true,
};

const ER_DUP_ENTRY = 1062;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

export const mysqlDialect: StoreDialect = {
  name: 'mysql',
  isUniqueViolation: (err) => errorField(err, 'errno') === ER_DUP_ENTRY,
  isRetryable: (err) => {
    const errno = errorField(err, 'errno');
    return errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT;
  },
  // Not INSERT IGNORE: that also turns truncation and other data errors into warnings.
  ignoreDuplicates: (column) => sql`on duplicate key update ${sql.ref(column)} = ${sql.ref(column)}`,
  rowLocks: true,
  longText: sql`mediumtext`,
  // Binary collation: ids are case-sensitive (uid "Bob" is not "bob"), and utf8mb4 keeps any clientMsgId.
  tableOptions: sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`,
  greatest: 'greatest',
  updateFromValues: false,
};

const TRANSACTION_RUNS = 3; // a deadlock victim is run again, up to this many runs in all

/** Runs `work` in a transaction, and again when the database aborted it to break a deadlock. */
export function transact<DB, T>(
  db: Kysely<DB>,
  dialect: StoreDialect,
  logger: Logger,
  work: (trx: Transaction<DB>) => Promise<T>,
): Promise<T> {
  return retryAborted(dialect, logger, () => db.transaction().execute(work));
}

/** Runs a whole transaction, and again when the database aborted it to break a deadlock. */
export async function retryAborted<T>(
  dialect: StoreDialect,
  logger: Logger,
  transaction: () => Promise<T>,
): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await transaction();
    } catch (err) {
      if (run >= TRANSACTION_RUNS || !dialect.isRetryable(err)) throw err;
      logger.warn({ err, run }, 'store transaction aborted by the database, running it again');
    }
  }
}
