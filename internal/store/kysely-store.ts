// The message store on kysely: one repository for SQLite and MySQL/MariaDB. Dialect differences live in
// StoreDialect; this file is plain SQL that both understand.
import { sql, type Kysely, type Transaction } from 'kysely';
import { CourierError } from '../errors.js';
import type { WordList } from '../filter/filter.js';
import type { Logger } from '../log/logger.js';
import type { Message } from '../protocol/message.js';
import { transact, type StoreDialect } from './dialect.js';
import { StoreClosedError } from './errors.js';
import {
  assignCustomerService,
  countSessions,
  lockedConversation,
  replaceAgent,
} from './customer-service-repo.js';
import { ConversationWriter, MAX_CONVERSATIONS_PER_BATCH } from './conversation-writer.js';
import { GroupCommit } from './group-commit.js';
import { MessageWriter, type OneTrip } from './message-writer.js';
import { decodeCursor, encodeCursor, joinedLastMessage, rowToConversation, rowToMessage } from './rows.js';
import { MAX_ID_LENGTH, migrateToLatest, type Database } from './schema.js';
import { readWordList, readWordListVersion, writeWordList } from './sensitive-words-repo.js';
import type {
  AgentChooser,
  Assignment,
  Conversation,
  ConversationPage,
  CustomerServiceRequest,
  HistoryPage,
  MerchantAgent,
  NewConversation,
  NewMessage,
  Store,
  StoredWordList,
} from './store.js';

export interface KyselyStoreOptions {
  /** Primary: every write and every read that must see the latest write. */
  db: Kysely<Database>;
  /** Read replica for `history`, which tolerates a little lag (clients pull by seq again). */
  replica?: Kysely<Database> | undefined;
  dialect: StoreDialect;
  groupCommitMaxRows: number; // rows per multi-row INSERT
  /** How long a group commit of messages may wait for more (GroupCommit's linger); 0 = no wait. */
  groupCommitLingerMs?: number | undefined;
  /** Group commits in one round trip (message-writer.ts); without it, through kysely's transaction. */
  oneTrip?: OneTrip | undefined;
  logger: Logger;
}

// 9 bound parameters per row: this keeps one INSERT under SQLite's 32766 and MySQL's 65535 placeholders.
const MAX_ROWS_PER_INSERT = 3_000;

export class KyselyStore implements Store {
  private readonly db: Kysely<Database>;
  private readonly reader: Kysely<Database>;
  private readonly dialect: StoreDialect;
  private readonly logger: Logger;
  private readonly commits: GroupCommit<NewMessage>;
  private readonly conversations: GroupCommit<NewConversation, Conversation>;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: KyselyStoreOptions) {
    this.db = options.db;
    this.reader = options.replica ?? options.db;
    this.dialect = options.dialect;
    this.logger = options.logger;
    const maxRows = Math.min(options.groupCommitMaxRows, MAX_ROWS_PER_INSERT);
    const writer = new MessageWriter(this.db, this.dialect, this.logger, options.oneTrip);
    this.commits = new GroupCommit(
      maxRows,
      (batch) => writer.write(batch),
      this.logger,
      options.groupCommitLingerMs ?? 0,
    );
    const conversations = new ConversationWriter(this.db, this.dialect, this.logger);
    this.conversations = new GroupCommit(
      MAX_CONVERSATIONS_PER_BATCH,
      (batch) => conversations.ensure(batch),
      this.logger,
    );
  }

  async migrate(): Promise<void> {
    const applied = await migrateToLatest(this.db, this.dialect);
    if (applied.length > 0) this.logger.info({ applied }, 'store schema migrated');
  }

  ensureConversation(conv: NewConversation): Promise<Conversation> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    return this.conversations.submit(conv);
  }

  async getConversation(id: string): Promise<Conversation | undefined> {
    return this.conversationIn(this.db, id);
  }

  async setAgent(conversation: string, agent: string): Promise<Conversation> {
    return this.transact(async (trx) => {
      const current = await lockedConversation(trx, this.dialect, conversation);
      if (!current) throw new CourierError('not_found', `conversation ${conversation} does not exist`);
      return replaceAgent(trx, this.dialect, current, agent);
    });
  }

  assignCustomerService(req: CustomerServiceRequest, choose: AgentChooser): Promise<Assignment> {
    return this.transact((trx) => assignCustomerService(trx, this.dialect, req, choose));
  }

  async append(message: NewMessage): Promise<void> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    if (message.clientMsgId !== undefined && message.clientMsgId.length > MAX_ID_LENGTH) {
      // Checked here so SQLite (no length limit) and MySQL (varchar) reject the same input.
      const msg = `clientMsgId is longer than ${MAX_ID_LENGTH} characters`;
      return Promise.reject(new CourierError('invalid_request', msg, 'clientMsgId'));
    }
    await this.commits.submit(message);
  }

  async findByClientMsgId(sender: string, clientMsgId: string): Promise<Message | undefined> {
    const row = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('sender', '=', sender)
      .where('client_msg_id', '=', clientMsgId)
      .executeTakeFirst();
    return row && rowToMessage(row);
  }

  async history(conversation: string, after: number, limit: number): Promise<HistoryPage> {
    checkLimit(limit);
    const rows = await this.reader
      .selectFrom('messages')
      .selectAll()
      .where('conversation', '=', conversation)
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(limit + 1) // one extra row tells whether another page exists
      .execute();
    return { messages: rows.slice(0, limit).map(rowToMessage), hasMore: rows.length > limit };
  }

  /** From the primary and the messages themselves: the sequencer seeds from it, so it must not lag. */
  async lastSeq(conversation: string): Promise<number> {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.max('seq').as('last'))
      .where('conversation', '=', conversation)
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  async listConversations(uid: string, limit: number, cursor: string | null): Promise<ConversationPage> {
    checkLimit(limit);
    const from = cursor === null ? null : decodeCursor(cursor);
    let query = this.db
      .selectFrom('members as m')
      .innerJoin('conversations as c', 'c.id', 'm.conversation')
      .leftJoin('messages as msg', (join) =>
        join.onRef('msg.conversation', '=', 'c.id').onRef('msg.seq', '=', 'c.last_seq'),
      )
      .selectAll('c')
      .select([
        'm.read_seq',
        'msg.id as msg_id',
        'msg.sender as msg_sender',
        'msg.receivers as msg_receivers',
        'msg.type as msg_type',
        'msg.content as msg_content',
        'msg.created_at as msg_created_at',
      ])
      .where('m.uid', '=', uid);
    if (from) {
      query = query.where((eb) =>
        eb.or([
          eb('c.updated_at', '<', from.updatedAt),
          eb.and([eb('c.updated_at', '=', from.updatedAt), eb('c.id', '<', from.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('c.updated_at', 'desc')
      .orderBy('c.id', 'desc')
      .limit(limit + 1)
      .execute();

    const items = rows.slice(0, limit).map((row) => {
      const conversation = rowToConversation(row);
      const readSeq = Number(row.read_seq);
      const lastMessage = joinedLastMessage(row, conversation);
      return { conversation, lastMessage, readSeq, unread: Math.max(0, conversation.lastSeq - readSeq) };
    });
    const last = items[items.length - 1];
    const next =
      rows.length > limit && last
        ? encodeCursor({ updatedAt: last.conversation.updatedAt, id: last.conversation.id })
        : null;
    return { items, next };
  }

  async markRead(conversation: string, uid: string, seq: number): Promise<number> {
    const conv = await this.db
      .selectFrom('conversations')
      .select('last_seq')
      .where('id', '=', conversation)
      .executeTakeFirst();
    if (!conv) throw new CourierError('not_found', `conversation ${conversation} does not exist`);
    // last_seq only grows, so clamping to a value read a moment ago can only under-shoot, never overshoot.
    const target = Math.min(Math.floor(seq), Number(conv.last_seq));
    await this.db
      .updateTable('members')
      .set({ read_seq: target })
      .where('conversation', '=', conversation)
      .where('uid', '=', uid)
      .where('read_seq', '<', target) // forward only, also against a concurrent markRead
      .execute();
    const member = await this.db
      .selectFrom('members')
      .select('read_seq')
      .where('conversation', '=', conversation)
      .where('uid', '=', uid)
      .executeTakeFirst();
    if (!member)
      throw new CourierError('not_found', `${uid} is not a member of conversation ${conversation}`);
    return Number(member.read_seq);
  }

  async setMerchantAgents(merchant: string, agents: MerchantAgent[]): Promise<void> {
    const byUid = new Map(agents.map((a) => [a.uid, a.maxSessions])); // the last entry of a uid wins
    await this.transact(async (trx) => {
      await trx.deleteFrom('merchant_agents').where('merchant', '=', merchant).execute();
      if (byUid.size === 0) return;
      const rows = [...byUid].map(([uid, max]) => ({ merchant, uid, max_sessions: max }));
      await trx.insertInto('merchant_agents').values(rows).execute();
    });
  }

  async getMerchantAgents(merchant: string): Promise<MerchantAgent[]> {
    const rows = await this.db
      .selectFrom('merchant_agents')
      .select(['uid', 'max_sessions'])
      .where('merchant', '=', merchant)
      .orderBy('uid')
      .execute();
    return rows.map((r) => ({ uid: r.uid, maxSessions: Number(r.max_sessions) }));
  }

  openSessions(merchant: string, agents: string[], activeSince?: number): Promise<Map<string, number>> {
    return countSessions(this.db, merchant, agents, activeSince);
  }

  async agentMerchants(uid: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('merchant_agents')
      .select('merchant')
      .where('uid', '=', uid)
      .orderBy('merchant')
      .execute();
    return rows.map((r) => r.merchant);
  }

  async sharesConversation(a: string, b: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('members as x')
      .innerJoin('members as y', 'y.conversation', 'x.conversation')
      .select('x.conversation')
      .where('x.uid', '=', a)
      .where('y.uid', '=', b)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  getSensitiveWords(): Promise<StoredWordList | undefined> {
    return readWordList(this.db);
  }

  setSensitiveWords(list: WordList): Promise<number> {
    return this.transact((trx) => writeWordList(trx, this.dialect, list));
  }

  sensitiveWordsVersion(): Promise<number> {
    return readWordListVersion(this.db);
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch (err) {
      this.logger.warn({ err }, 'store ping failed');
      return false;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Appends and conversations already accepted still commit.
    await Promise.all([this.commits.idle(), this.conversations.idle()]);
    const results = await Promise.allSettled([
      this.options.replica?.destroy() ?? Promise.resolve(),
      this.options.oneTrip?.close() ?? Promise.resolve(),
      this.db.destroy(),
    ]);
    for (const r of results) if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'store close');
  }

  private transact<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return transact(this.db, this.dialect, this.logger, work);
  }

  private async conversationIn(db: Kysely<Database>, id: string): Promise<Conversation | undefined> {
    const row = await db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && rowToConversation(row);
  }
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be an integer ≥ 0: ${limit}`);
  }
}
