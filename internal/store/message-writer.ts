// The write side of group commit: stores a batch of messages in one transaction and moves each touched
// conversation's last seq, falling back to row-by-row inserts so that one bad row fails alone.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Logger } from '../log/logger.js';
import { transact, type StoreDialect } from './dialect.js';
import { DuplicateMessageIdError, DuplicateSeqError } from './errors.js';
import { messageToRow, rowToMessage } from './rows.js';
import type { Database } from './schema.js';
import { DuplicateClientMsgIdError, type NewMessage } from './store.js';

export class MessageWriter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    private readonly logger: Logger,
  ) {}

  private transact(work: (trx: Transaction<Database>) => Promise<void>): Promise<void> {
    return transact(this.db, this.dialect, this.logger, work);
  }

  /** One entry per message, in order: null when committed, else the error of that message. */
  async write(batch: NewMessage[]): Promise<Array<Error | null>> {
    try {
      await this.transact((trx) => this.insert(trx, batch));
      return batch.map(() => null);
    } catch (err) {
      if (!this.dialect.isUniqueViolation(err)) throw err; // e.g. connection lost: the whole batch fails
    }
    if (batch.length > 1) this.logger.debug({ rows: batch.length }, 'batch conflict, inserting one by one');
    const results: Array<Error | null> = [];
    for (const message of batch) {
      try {
        await this.transact((trx) => this.insert(trx, [message]));
        results.push(null);
      } catch (err) {
        results.push(this.dialect.isUniqueViolation(err) ? await this.explain(message, err) : toError(err));
      }
    }
    return results;
  }

  private async insert(trx: Transaction<Database>, batch: NewMessage[]): Promise<void> {
    const touched = new Map<string, { seq: number; ts: number }>();
    for (const m of batch) {
      const t = touched.get(m.conversation);
      touched.set(m.conversation, { seq: Math.max(t?.seq ?? 0, m.seq), ts: Math.max(t?.ts ?? 0, m.ts) });
    }
    // Conversation rows are locked in id order so that two nodes' batches do not deadlock on them; last_seq
    // and updated_at only move forward, whatever order batches commit in. A message whose conversation row
    // does not exist is still stored (ensureConversation is the caller's job).
    for (const [id, { seq, ts }] of [...touched].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      await trx
        .updateTable('conversations')
        .set({
          last_seq: sql<number>`case when last_seq < ${seq} then ${seq} else last_seq end`,
          updated_at: sql<number>`case when updated_at < ${ts} then ${ts} else updated_at end`,
        })
        .where('id', '=', id)
        .execute();
    }
    await trx.insertInto('messages').values(batch.map(messageToRow)).execute();
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

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
