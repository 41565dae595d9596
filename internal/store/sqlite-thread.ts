// The SQLite side of the store's worker thread: owns the better-sqlite3 connection so that its synchronous
// calls (and the fsync of every commit) block this thread, never the event loop serving clients.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { Statement, ThreadReply, ThreadRequest } from './sqlite-thread-protocol.js';

const BUSY_TIMEOUT_MS = 5_000; // wait this long for another process's write lock before SQLITE_BUSY
const STATEMENT_CACHE = 256; // prepared statements kept; kysely compiles the same few shapes over and over

const { path } = workerData as { path: string };
if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
const db = new SQLite(path);
db.pragma('journal_mode = WAL');
// FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power loss could drop messages that
// were already acknowledged as durable. Group commit keeps the cost to one fsync per batch, and this thread
// absorbs the wait.
db.pragma('synchronous = FULL');
db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);

const statements = new Map<string, SQLite.Statement>();

function prepare(sql: string): SQLite.Statement {
  let stmt = statements.get(sql);
  if (stmt) return stmt;
  stmt = db.prepare(sql);
  statements.set(sql, stmt);
  if (statements.size > STATEMENT_CACHE) statements.delete(statements.keys().next().value as string);
  return stmt;
}

// BEGIN … COMMIT around the statements, ROLLBACK when one throws (better-sqlite3's transaction function).
const runAll = db.transaction((statements: Statement[]) => {
  for (const s of statements) prepare(s.sql).run(s.params);
});

function run(req: ThreadRequest): ThreadReply {
  try {
    if (req.op === 'close') {
      db.close();
      return { id: req.id, ok: true, rows: [] };
    }
    if (req.op === 'transaction') {
      runAll(req.statements);
      return { id: req.id, ok: true, rows: [] };
    }
    const stmt = prepare(req.sql);
    if (stmt.reader) return { id: req.id, ok: true, rows: stmt.all(req.params) };
    const { changes, lastInsertRowid } = stmt.run(req.params);
    return { id: req.id, ok: true, rows: [], changes, lastInsertRowid: BigInt(lastInsertRowid) };
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return { id: req.id, ok: false, error: { message: e.message ?? String(err), code: e.code } };
  }
}

parentPort?.on('message', (req: ThreadRequest) => parentPort?.postMessage(run(req)));
