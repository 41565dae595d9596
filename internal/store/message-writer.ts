// The write side of group commit: stores a batch of messages in one transaction and moves each touched
// conversation's last seq, falling back to row-by-row inserts so that one bad row fails alone.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Logger } from '../log/logger.js';
import { retryAborted, transact, type StoreDialect } from './dialect.js';
import { DuplicateMessageIdError, DuplicateSeqError } from './errors.js';
import { messageToRow, rowToMessage } from './rows.js';
import type { Database, MessagesTable } from './schema.js';
import { DuplicateClientMsgIdError, type NewMessage } from './store.js';

/**
 * Runs statements as one transaction (all or nothing) in one round trip to the database, instead of
 * kysely's one per statement plus BEGIN and COMMIT. Each trip is a write and a read on a socket or a
 * thread's port, which under load waits for a turn of the event loop and at low load costs more CPU than
 * the statements (SQLite thread and MySQL both, measured: BENCHMARKS.md).
 */
export interface OneTrip {
  run(statements: readonly CompiledQuery[]): Promise<void>;
  close(): Promise<void>;
}

export class MessageWriter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    private readonly logger: Logger,
    private readonly oneTrip?: OneTrip,
  ) {}

  private insert(batch: NewMessage[]): Promise<void> {
    const statements = this.statements(batch);
    const oneTrip = this.oneTrip;
    if (oneTrip) return retryAborted(this.dialect, this.logger, () => oneTrip.run(statements));
    return transact(this.db, this.dialect, this.logger, async (trx) => {
      for (const statement of statements) await trx.executeQuery(statement);
    });
  }

  /** One entry per message, in order: null when committed, else the error of that message. */
  async write(batch: NewMessage[]): Promise<Array<Error | null>> {
    try {
      await this.insert(batch);
      return batch.map(() => null);
    } catch (err) {
      if (!this.dialect.isUniqueViolation(err)) throw err; // e.g. connection lost: the whole batch fails
    }
    if (batch.length > 1) this.logger.debug({ rows: batch.length }, 'batch conflict, inserting one by one');
    const results: Array<Error | null> = [];
    for (const message of batch) {
      try {
        await this.insert([message]);
        results.push(null);
      } catch (err) {
        results.push(this.dialect.isUniqueViolation(err) ? await this.explain(message, err) : toError(err));
      }
    }
    return results;
  }

  private statements(batch: NewMessage[]): CompiledQuery[] {
    const touched = new Map<string, { seq: number; ts: number }>();
    // The sender has read their own message: their read seq moves with it, in the same transaction, so
    // their own messages never count as unread (unread = last seq − read seq).
    const sent = new Map<string, { conversation: string; uid: string; seq: number }>();
    for (const m of batch) {
      const t = touched.get(m.conversation);
      touched.set(m.conversation, { seq: Math.max(t?.seq ?? 0, m.seq), ts: Math.max(t?.ts ?? 0, m.ts) });
      const key = `${m.conversation}\u0000${m.from}`;
      const s = sent.get(key);
      sent.set(key, { conversation: m.conversation, uid: m.from, seq: Math.max(s?.seq ?? 0, m.seq) });
    }
    // Conversation rows, then member rows (one statement, which InnoDB walks in key order), are locked in
    // key order so that two nodes' batches do not deadlock on them (assignment and hand-over also go
    // conversation → members); last_seq, updated_at and read_seq only move forward, whatever order
    // batches commit in. A message whose conversation row does not exist is still stored
    // (ensureConversation is the caller's job).
    // One statement for every conversation of the batch (a statement per conversation was the store's
    // bottleneck under load); `id IN (…)` walks the primary key in order, so rows are still locked in key order.
    // The three statements are written as SQL text with placeholders rather than built with kysely: building
    // a 100-row INSERT node by node (and freezing every node) was a tenth of the send path's CPU and much of
    // its garbage. Both dialects take `?` placeholders and these unquoted names.
    const convs = [...touched].sort(([a], [b]) => compare(a, b));
    const statements = [this.moveConversations(convs)];
    // One statement for all the senders of the batch (two on MySQL), each row with its own seq.
    const readers = [...sent.values()].sort(
      (a, b) => compare(a.conversation, b.conversation) || compare(a.uid, b.uid),
    );
    if (readers.length > 0) statements.push(...this.moveReadSeqs(readers));
    const rows: unknown[] = [];
    for (const m of batch) {
      const row = messageToRow(m);
      for (const column of MESSAGE_COLUMNS) rows.push(row[column]);
    }
    statements.push(CompiledQuery.raw(insertSql(batch.length), rows));
    return statements;
  }

  // Both moves give each row its own values in a form whose cost grows linearly with the batch (measured
  // with 100 and 500 rows, ms per statement):
  //   members, OR of (conversation = ? and uid = ?) pairs: MariaDB 3.8 → 44 (its range optimiser is
  //     quadratic in the pairs), SQLite 0.27 → 3.6;
  //   members, `conversation in (…)` with a CASE over the pairs: MariaDB 1.2 → 5.0 on small tables, but
  //     15.7 ms at 500 rows over 100,000 conversations, where every scanned row tries every arm; SQLite
  //     0.50 → 6.3;
  //   members, UPDATE … FROM (VALUES …): SQLite 0.15 → 0.79; MariaDB's join with a derived table 4.2 → 9.5;
  //   members, MariaDB's INSERT … ON DUPLICATE KEY UPDATE (a point lookup per row) plus the DELETE below:
  //     1.9 and 5.8 ms at 100 and 500 rows over 100,000 conversations.
  // So SQLite takes FROM (VALUES …); MySQL the CASE for conversations (a handful per batch are hot, and the
  // statement is restricted by the primary key) and the upsert for members.
  private moveConversations(convs: Array<[string, { seq: number; ts: number }]>): CompiledQuery {
    const max = this.dialect.greatest;
    const params: unknown[] = [];
    if (this.dialect.updateFromValues) {
      for (const [id, t] of convs) params.push(id, t.seq, t.ts);
      return CompiledQuery.raw(
        `update conversations set last_seq = ${max}(last_seq, v.column2), updated_at = ${max}(updated_at, v.column3) ` +
          `from (values ${tuples(convs.length, 3)}) as v where conversations.id = v.column1`,
        params,
      );
    }
    for (const [id, t] of convs) params.push(id, t.seq);
    for (const [id, t] of convs) params.push(id, t.ts);
    for (const [id] of convs) params.push(id);
    const whens = 'when ? then ? '.repeat(convs.length);
    return CompiledQuery.raw(
      `update conversations set last_seq = ${max}(last_seq, case id ${whens}else 0 end), ` +
        `updated_at = ${max}(updated_at, case id ${whens}else 0 end) where id in (${marks(convs.length)})`,
      params,
    );
  }

  private moveReadSeqs(readers: Array<{ conversation: string; uid: string; seq: number }>): CompiledQuery[] {
    const max = this.dialect.greatest;
    const params: unknown[] = [];
    for (const r of readers) params.push(r.conversation, r.uid, r.seq);
    if (this.dialect.updateFromValues) {
      return [
        CompiledQuery.raw(
          `update members set read_seq = ${max}(read_seq, v.column3) from (values ${tuples(readers.length, 3)}) as v ` +
            'where members.conversation = v.column1 and members.uid = v.column2',
          params,
        ),
      ];
    }
    // The upsert only ever means to update: a sender whose member row is gone (an agent handed over while
    // its message was on the way) must not become a member again, so rows it inserts carry joined_at -1
    // and the DELETE removes them before commit; nobody else ever sees them. Rows are taken in key order
    // (readers are sorted), so two nodes' batches lock them in the same order and cannot deadlock.
    const conversations = [...new Set(readers.map((r) => r.conversation))];
    return [
      CompiledQuery.raw(
        `insert into members (conversation, uid, joined_at, read_seq) values ${Array(readers.length).fill(`(?, ?, ${NOT_A_MEMBER}, ?)`).join(', ')} ` +
          `on duplicate key update read_seq = ${max}(read_seq, values(read_seq))`,
        params,
      ),
      CompiledQuery.raw(
        `delete from members where joined_at = ${NOT_A_MEMBER} and conversation in (${marks(conversations.length)})`,
        conversations,
      ),
    ];
  }

  /** Turns a unique violation into the typed error of the key that collided, checked in this order. */
  private async explain(message: NewMessage, cause: unknown): Promise<Error> {
    const messages = this.db.selectFrom('messages').selectAll();
    if (message.clientMsgId !== undefined) {
      const existing = await messages
        .where('sender', '=', message.from)
        .where('client_msg_id', '=', message.clientMsgId)
        .executeTakeFirst();
      if (existing) return new DuplicateClientMsgIdError(rowToMessage(existing), { cause });
    }
    const sameSeq = await messages
      .where('conversation', '=', message.conversation)
      .where('seq', '=', message.seq)
      .executeTakeFirst();
    if (sameSeq) return new DuplicateSeqError(message.conversation, message.seq, { cause });
    const sameId = await messages.where('id', '=', message.id).executeTakeFirst();
    if (sameId) return new DuplicateMessageIdError(message.id, { cause });
    return toError(cause);
  }
}

// Every column of the table (schema.ts), in the order of each row's placeholders.
const MESSAGE_COLUMNS: ReadonlyArray<keyof MessagesTable> = [
  'id',
  'conversation',
  'seq',
  'sender',
  'receivers',
  'type',
  'content',
  'client_msg_id',
  'created_at',
];
// joined_at of the rows the MySQL read-seq upsert inserts by accident and deletes again (moveReadSeqs).
const NOT_A_MEMBER = -1;
const ROW_MARKS = `(${marks(MESSAGE_COLUMNS.length)})`;
const insertTexts = new Map<number, string>(); // by row count: batches take a few sizes over and over

function insertSql(rows: number): string {
  let text = insertTexts.get(rows);
  if (!text) {
    text = `insert into messages (${MESSAGE_COLUMNS.join(', ')}) values ${Array(rows).fill(ROW_MARKS).join(', ')}`;
    if (insertTexts.size < 1_000) insertTexts.set(rows, text);
  }
  return text;
}

function marks(n: number): string {
  return Array(n).fill('?').join(', ');
}

function tuples(rows: number, columns: number): string {
  return Array(rows)
    .fill(`(${marks(columns)})`)
    .join(', ');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
