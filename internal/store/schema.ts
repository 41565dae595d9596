// Tables of DESIGN §6 and the migrations that create them, written once for SQLite and MySQL/MariaDB.
import { Migrator, type Kysely, type Migration } from 'kysely';
import type { StoreDialect } from './dialect.js';

/**
 * Longest id (conversation, uid, merchant, message id, clientMsgId) the store accepts. 191 utf8mb4
 * characters keep the two-column unique keys of MySQL within InnoDB's 3072-byte index limit.
 */
export const MAX_ID_LENGTH = 191;

// Timestamps are milliseconds since the epoch in BIGINT columns, so both drivers read them as numbers.
export interface MessagesTable {
  id: string;
  conversation: string;
  seq: number;
  sender: string;
  receivers: string; // JSON array of uids
  type: string;
  content: string; // JSON value (a string content is stored as a JSON string)
  client_msg_id: string | null;
  created_at: number;
}

export interface ConversationsTable {
  id: string;
  kind: string;
  members: string; // JSON array of uids
  merchant: string | null;
  agent: string | null;
  last_seq: number;
  created_at: number;
  updated_at: number;
}

export interface MembersTable {
  conversation: string;
  uid: string;
  joined_at: number;
  read_seq: number;
}

export interface MerchantAgentsTable {
  merchant: string;
  uid: string;
  max_sessions: number;
}

/** The run-time sensitive-word list (one row, id 'default'), replaced by PUT /v1/sensitive-words. */
export interface SensitiveWordsTable {
  id: string;
  words: string; // JSON array of strings
  mode: string;
  version: number; // +1 per replacement; business nodes poll it to pick up another node's PUT
  updated_at: number;
}

export interface Database {
  messages: MessagesTable;
  conversations: ConversationsTable;
  members: MembersTable;
  merchant_agents: MerchantAgentsTable;
  sensitive_words: SensitiveWordsTable;
}

const id = `varchar(${MAX_ID_LENGTH})` as const;

// Migrations only ever get appended: kysely runs those it has not recorded yet, in name order. MySQL has no
// transactional DDL, so a migration interrupted half-way is not rolled back; IF NOT EXISTS on the tables
// lets most such runs simply go again (an index created just before the crash needs dropping by hand).
function migrations(dialect: StoreDialect): Record<string, Migration> {
  const withTableOptions = <T extends { modifyEnd(e: NonNullable<StoreDialect['tableOptions']>): T }>(
    t: T,
  ): T => (dialect.tableOptions ? t.modifyEnd(dialect.tableOptions) : t);
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('messages')
          .ifNotExists()
          .addColumn('id', id, (c) => c.notNull())
          .addColumn('conversation', id, (c) => c.notNull())
          .addColumn('seq', 'bigint', (c) => c.notNull())
          .addColumn('sender', id, (c) => c.notNull())
          .addColumn('receivers', dialect.longText, (c) => c.notNull())
          .addColumn('type', 'varchar(16)', (c) => c.notNull())
          .addColumn('content', dialect.longText, (c) => c.notNull())
          .addColumn('client_msg_id', id)
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          // Clustered by (conversation, seq) in InnoDB, so a history page is one sequential range read.
          .addPrimaryKeyConstraint('messages_pk', ['conversation', 'seq'])
          .addUniqueConstraint('messages_id_unique', ['id'])
          // NULLs never collide, so messages without a clientMsgId are not constrained.
          .addUniqueConstraint('messages_client_msg_id_unique', ['sender', 'client_msg_id'])
          .$call(withTableOptions)
          .execute();

        await db.schema
          .createTable('conversations')
          .ifNotExists()
          .addColumn('id', id, (c) => c.primaryKey())
          .addColumn('kind', 'varchar(32)', (c) => c.notNull())
          .addColumn('members', dialect.longText, (c) => c.notNull())
          .addColumn('merchant', id)
          .addColumn('agent', id)
          .addColumn('last_seq', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .$call(withTableOptions)
          .execute();
        // openSessions counts by (merchant, agent); (updated_at, id) was meant for listing (dropped by 0003).
        await db.schema
          .createIndex('conversations_updated')
          .on('conversations')
          .columns(['updated_at', 'id'])
          .execute();
        await db.schema
          .createIndex('conversations_merchant_agent')
          .on('conversations')
          .columns(['merchant', 'agent'])
          .execute();

        await db.schema
          .createTable('members')
          .ifNotExists()
          .addColumn('conversation', id, (c) => c.notNull())
          .addColumn('uid', id, (c) => c.notNull())
          .addColumn('joined_at', 'bigint', (c) => c.notNull())
          .addColumn('read_seq', 'bigint', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('members_pk', ['conversation', 'uid'])
          .$call(withTableOptions)
          .execute();
        await db.schema.createIndex('members_uid').on('members').column('uid').execute();

        await db.schema
          .createTable('merchant_agents')
          .ifNotExists()
          .addColumn('merchant', id, (c) => c.notNull())
          .addColumn('uid', id, (c) => c.notNull())
          .addColumn('max_sessions', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('merchant_agents_pk', ['merchant', 'uid'])
          .$call(withTableOptions)
          .execute();
      },
    },
    '0002_business_rules': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('sensitive_words')
          .ifNotExists()
          .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
          .addColumn('words', dialect.longText, (c) => c.notNull())
          .addColumn('mode', 'varchar(16)', (c) => c.notNull())
          .addColumn('version', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .$call(withTableOptions)
          .execute();
        // Permission checks ask which merchants an agent serves (a customer may write to those agents).
        await db.schema.createIndex('merchant_agents_uid').on('merchant_agents').column('uid').execute();
      },
    },
    '0003_drop_conversations_updated': {
      // No query reads it: listing starts from the member's rows (members_uid) and sorts their few
      // conversations, and neither MariaDB nor SQLite picks it even for an agent in 20,000 conversations
      // (EXPLAIN, BENCHMARKS.md). Yet every stored message moved its entry, a tenth of a commit's cost.
      async up(db: Kysely<unknown>): Promise<void> {
        let drop = db.schema.dropIndex('conversations_updated').ifExists();
        if (dialect.name === 'mysql') drop = drop.on('conversations'); // SQLite's DROP INDEX takes no table
        await drop.execute();
      },
    },
  };
}

/**
 * Brings the schema to the latest version. On MySQL kysely's migrator holds a GET_LOCK while it runs, so
 * nodes starting together apply each migration once. SQLite is single-node (one process owns the file).
 */
export async function migrateToLatest(db: Kysely<Database>, dialect: StoreDialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  const failed = results.find((r) => r.status === 'Error');
  if (error !== undefined || failed) {
    const what = failed ? `migration ${failed.migrationName} failed` : 'migration failed';
    throw new Error(`store: ${what}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
