// The conversation side of group commit: every first message between two users needs its conversation row
// before it gets a seq, and a burst of new conversations (a campaign, a load test, a restart with a cold
// cache) used to cost one transaction and one fsync each, queued behind each other on SQLite's one writer.
// Here the rows asked for meanwhile are ensured in one transaction.
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from '../log/logger.js';
import { transact, type StoreDialect } from './dialect.js';
import { rowToConversation } from './rows.js';
import type { Database } from './schema.js';
import type { Conversation, NewConversation } from './store.js';

/** Conversations per transaction: 8 bound parameters each stays far below SQLite's 32,766. */
export const MAX_CONVERSATIONS_PER_BATCH = 500;
// 4 bound parameters per member row; a batch of large groups is split into several statements.
const MEMBER_ROWS_PER_INSERT = 5_000;

export class ConversationWriter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    private readonly logger: Logger,
  ) {}

  /** One entry per request, in order: the stored conversation (whoever inserted it), else the error. */
  async ensure(batch: NewConversation[]): Promise<Array<Conversation | Error>> {
    try {
      return await transact(this.db, this.dialect, this.logger, (trx) => this.insert(trx, batch));
    } catch (err) {
      if (batch.length === 1) return [toError(err)];
    }
    // One bad request must not fail the others: each alone, so the error lands on the one that caused it.
    const results: Array<Conversation | Error> = [];
    for (const conv of batch) {
      try {
        const [stored] = await transact(this.db, this.dialect, this.logger, (trx) =>
          this.insert(trx, [conv]),
        );
        results.push(stored ?? new Error(`conversation ${conv.id} was not stored`));
      } catch (err) {
        results.push(toError(err));
      }
    }
    return results;
  }

  private async insert(trx: Transaction<Database>, batch: NewConversation[]): Promise<Conversation[]> {
    const now = Date.now();
    // Insert-or-skip then read, so racing callers (and other nodes) all get the one stored row; rows go in
    // key order so that two nodes' batches lock them in the same order.
    const byId = new Map<string, NewConversation>();
    for (const conv of batch) if (!byId.has(conv.id)) byId.set(conv.id, conv); // the first asked wins
    const ids = [...byId.keys()].sort();
    await trx
      .insertInto('conversations')
      .values(
        ids.map((id) => {
          const conv = byId.get(id) as NewConversation;
          return {
            id,
            kind: conv.kind,
            members: JSON.stringify([...new Set(conv.members)]),
            merchant: conv.merchant ?? null,
            agent: conv.agent ?? null,
            last_seq: 0,
            created_at: now,
            updated_at: now,
          };
        }),
      )
      .modifyEnd(this.dialect.ignoreDuplicates('id'))
      .execute();
    const rows = await trx.selectFrom('conversations').selectAll().where('id', 'in', ids).execute();
    const stored = new Map(rows.map((row) => [row.id, rowToConversation(row)]));
    // Member rows follow the stored conversation, not the request: a second caller cannot add members.
    const members = ids.flatMap((id) =>
      (stored.get(id)?.members ?? []).map((uid) => ({ conversation: id, uid, joined_at: now, read_seq: 0 })),
    );
    for (let i = 0; i < members.length; i += MEMBER_ROWS_PER_INSERT) {
      await trx
        .insertInto('members')
        .values(members.slice(i, i + MEMBER_ROWS_PER_INSERT))
        .modifyEnd(this.dialect.ignoreDuplicates('uid'))
        .execute();
    }
    return batch.map((conv) => stored.get(conv.id) ?? vanished(conv.id));
  }
}

function vanished(id: string): never {
  throw new Error(`conversation ${id} vanished right after its insert`);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
