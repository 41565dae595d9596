import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';
import type { ThreadReply, ThreadRequest } from './sqlite-thread-protocol.js';

/** An error from SQLite, with its code (e.g. SQLITE_CONSTRAINT_UNIQUE) as better-sqlite3 would give it. */
export class SqliteThreadError extends Error {
  override readonly name = 'SqliteError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

type Waiting = { resolve: (r: ThreadReply & { ok: true }) => void; reject: (e: Error) => void };

/** The main-thread end of the SQLite thread: one request in flight per query, answered in order. */
class SqliteThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(path: string) {
    this.worker = new Worker(new URL('./sqlite-thread.js', import.meta.url), { workerData: { path } });
    this.worker.unref(); // held only while a query is in flight (see send)
    this.worker.on('message', (reply: ThreadReply) => this.onReply(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the SQLite thread exited with code ${code}`)));
  }

  send(req: WithoutId<ThreadRequest>): Promise<ThreadReply & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id } as ThreadRequest);
    });
  }

  private onReply(reply: ThreadReply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) waiting.resolve(reply);
    else waiting.reject(new SqliteThreadError(reply.error.message, reply.error.code));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    if (!this.failure) await this.send({ op: 'close' }).catch(() => undefined);
    this.failure ??= new Error('the SQLite store is closed');
    await this.worker.terminate();
  }
}

class ThreadConnection implements DatabaseConnection {
  constructor(private readonly thread: SqliteThread) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const reply = await this.thread.send({ op: 'query', sql: compiled.sql, params: compiled.parameters });
    return {
      rows: reply.rows as R[],
      ...(reply.changes === undefined
        ? {}
        : { numAffectedRows: BigInt(reply.changes), insertId: reply.lastInsertRowid }),
    };
  }

  // eslint-disable-next-line require-yield -- kysely's interface; the store never streams
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('the SQLite thread driver does not stream');
  }
}

/** SQLite allows one writer: queries take turns on the one connection, transactions hold it throughout. */
class ThreadDriver implements Driver {
  private thread: SqliteThread | undefined;
  private connection: ThreadConnection | undefined;
  private turn: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(private readonly path: string) {}

  async init(): Promise<void> {
    this.start();
  }

  private start(): SqliteThread {
    // Idempotent: kysely calls init() on first use, and transaction() may come first.
    if (!this.thread) {
      this.thread = new SqliteThread(this.path);
      this.connection = new ThreadConnection(this.thread);
    }
    return this.thread;
  }

  /** The statements in one transaction and one trip to the thread, in its turn like any transaction. */
  async transaction(statements: readonly CompiledQuery[]): Promise<void> {
    const thread = this.start();
    await this.acquireConnection();
    try {
      await thread.send({
        op: 'transaction',
        statements: statements.map((s) => ({ sql: s.sql, params: s.parameters })),
      });
    } finally {
      await this.releaseConnection();
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.release = release;
    return this.connection as ThreadConnection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.thread?.close();
  }
}

/** Kysely on SQLite with better-sqlite3 running in a worker thread. */
export class SqliteThreadDialect implements Dialect {
  private readonly driver: ThreadDriver;

  constructor(path: string) {
    this.driver = new ThreadDriver(path);
  }

  createDriver(): Driver {
    return this.driver;
  }

  /**
   * Runs the statements as one transaction in one message to the thread and one back. Through kysely, a
   * transaction of three statements is five round trips, each waiting for a turn of this thread's event
   * loop; under load that wait, not SQLite, set the length of a group commit.
   */
  transaction(statements: readonly CompiledQuery[]): Promise<void> {
    return this.driver.transaction(statements);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
