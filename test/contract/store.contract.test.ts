// One contract for the Store interface, run against every backend: SQLite (temp file) and a real MariaDB.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql, type Kysely, type KyselyConfig } from 'kysely';
import { configSchema, type Config } from '../../internal/config/schema.js';
import { CourierError } from '../../internal/errors.js';
import { silentLogger } from '../../internal/log/logger.js';
import type { Message } from '../../internal/protocol/message.js';
import { createStore } from '../../internal/store/create-store.js';
import { mysqlDialect, sqliteDialect, type StoreDialect } from '../../internal/store/dialect.js';
import { DuplicateMessageIdError, DuplicateSeqError, StoreClosedError } from '../../internal/store/errors.js';
import { KyselyStore } from '../../internal/store/kysely-store.js';
import { openMysql } from '../../internal/store/mysql-store.js';
import type { Database } from '../../internal/store/schema.js';
import { openSqlite } from '../../internal/store/sqlite-store.js';
import { DuplicateClientMsgIdError, type NewMessage, type Store } from '../../internal/store/store.js';
import { startMariaDb } from '../support/mariadb.js';
import { freePort, tempDir, uniqueId } from '../support/servers.js';

/** A backend under test; every `name` is a separate database, and the same name reaches the same data. */
interface Backend {
  dialect: StoreDialect;
  config(name: string): Promise<Config['store']>;
  /** A raw connection to database `name`, for stores built by hand (replica, statement counting). */
  open(name: string, log?: KyselyConfig['log']): Promise<Kysely<Database>>;
  stop(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = tempDir('store');
  const path = (name: string) => join(dir.path, 'not', 'yet', 'created', `${name}.db`);
  return {
    dialect: sqliteDialect,
    config: async (name) => configSchema.parse({ store: { sqlite: { path: path(name) } } }).store,
    open: async (name, log) => openSqlite(path(name), log),
    stop: async () => dir.remove(),
  };
}

async function mysqlBackend(): Promise<Backend> {
  const server = await startMariaDb();
  return {
    dialect: mysqlDialect,
    config: async (name) => {
      const mysql = { url: await server.createDatabase(name), poolSize: 4 };
      return configSchema.parse({ store: { driver: 'mysql', mysql } }).store;
    },
    open: async (name, log) => openMysql(await server.createDatabase(name), 4, 'test', log),
    stop: () => server.stop(),
  };
}

let seqClock = Date.now() + 60_000; // message times beyond any conversation's creation time, increasing

function message(conversation: string, seq: number, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    id: uniqueId('m'),
    conversation,
    seq,
    from: 'alice',
    to: ['bob'],
    type: 'text',
    content: `hello ${seq}`,
    ts: ++seqClock,
    ...extra,
  };
}

/** Strips clientMsgId: what history and errors hand back. */
const stored = ({ clientMsgId: _, ...m }: NewMessage): Message => m;

function storeContract(name: string, makeBackend: () => Promise<Backend>, multiNode: boolean): void {
  describe(`Store contract: ${name}`, () => {
    let backend: Backend;
    let store: Store;
    const opened: Store[] = [];
    const logger = silentLogger();

    const openStore = async (db: string) => {
      const s = await createStore(await backend.config(db), logger);
      opened.push(s);
      return s;
    };
    const handBuilt = (db: Kysely<Database>, replica?: Kysely<Database>, groupCommitMaxRows = 500) => {
      const s = new KyselyStore({ db, replica, dialect: backend.dialect, groupCommitMaxRows, logger });
      opened.push(s);
      return s;
    };
    const direct = (conv: string, a = 'alice', b = 'bob') =>
      store.ensureConversation({ id: conv, kind: 'direct', members: [a, b] });

    before(async () => {
      backend = await makeBackend();
      store = await openStore(uniqueId('db'));
    });
    after(async () => {
      await Promise.allSettled(opened.map((s) => s.close()));
      await backend?.stop();
    });

    it('migrates again, and from a second store on the same database, without harm', async () => {
      const db = uniqueId('db');
      const first = await openStore(db);
      await first.migrate();
      await first.ensureConversation({ id: 'c1', kind: 'direct', members: ['a', 'b'] });
      const second = await openStore(db);
      assert.equal((await second.getConversation('c1'))?.id, 'c1');
    });

    it('keeps no index on conversations that no query reads, since each costs every stored message', async () => {
      const db = uniqueId('db');
      await (await openStore(db)).migrate();
      const raw = await backend.open(db);
      const names =
        backend.dialect.name === 'mysql'
          ? (await sql<{ Key_name: string }>`show index from conversations`.execute(raw)).rows.map(
              (r) => r.Key_name,
            )
          : (
              await sql<{ name: string }>`select name from sqlite_master
                where type = 'index' and tbl_name = 'conversations' and sql is not null`.execute(raw)
            ).rows.map((r) => r.name);
      await raw.destroy();
      // The primary key (InnoDB lists it as PRIMARY; SQLite's automatic index has no sql) and openSessions'.
      assert.deepEqual(
        [...new Set(names)].filter((n) => n !== 'PRIMARY'),
        ['conversations_merchant_agent'],
      );
    });

    // Not registered for SQLite: one process owns a SQLite file, so there are no several nodes to race.
    if (multiNode)
      it('migrates concurrently from several nodes', async () => {
        const db = uniqueId('db');
        const stores = await Promise.all([openStore(db), openStore(db), openStore(db)]);
        await Promise.all(stores.map((s, i) => s.append(message('c', i + 1))));
        assert.equal(await stores[0]!.lastSeq('c'), 3);
      });

    it('ensureConversation is idempotent, also when called concurrently', async () => {
      const id = uniqueId('c');
      const calls = Array.from({ length: 10 }, (_, i) =>
        store.ensureConversation({ id, kind: 'group', members: ['a', 'b', `x${i}`] }),
      );
      const results = await Promise.all(calls);
      const first = results[0]!;
      for (const r of results) assert.deepEqual(r, first);
      assert.deepEqual(await store.getConversation(id), first);
      assert.equal(first.members.length, 3);
      const later = await store.ensureConversation({ id, kind: 'direct', members: ['zed', 'b'] });
      assert.deepEqual(later, first);
      assert.equal((await store.listConversations('zed', 10, null)).items.length, 0);
      assert.equal(await store.getConversation(uniqueId('missing')), undefined);
    });

    it('keeps ids case-sensitive and Unicode intact', async () => {
      const upper = uniqueId('Case');
      await direct(upper);
      await direct(upper.toLowerCase());
      const content = { text: 'héllo 👋', n: 1, nested: [true, null] };
      const m = message(upper, 1, { content, clientMsgId: 'ключ-🔑' });
      await store.append(m);
      assert.deepEqual((await store.history(upper, 0, 10)).messages, [stored(m)]);
      assert.deepEqual((await store.history(upper.toLowerCase(), 0, 10)).messages, []);
    });

    it('appends and pages through history in seq order', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      const messages = [1, 2, 3, 4, 5].map((seq) =>
        message(conv, seq, { type: 'product', content: { seq } }),
      );
      for (const m of messages) await store.append(m);
      const page1 = await store.history(conv, 0, 3);
      assert.deepEqual(page1, { messages: messages.slice(0, 3).map(stored), hasMore: true });
      assert.deepEqual(await store.history(conv, 3, 3), {
        messages: messages.slice(3).map(stored),
        hasMore: false,
      });
      assert.deepEqual(await store.history(conv, 0, 5), { messages: messages.map(stored), hasMore: false });
      assert.deepEqual(await store.history(conv, 5, 10), { messages: [], hasMore: false });
      assert.equal(await store.lastSeq(conv), 5);
      assert.equal(await store.lastSeq(uniqueId('none')), 0);
    });

    /** A store on a fresh database that reports the row count of every INSERT into `table`. */
    const watchedStore = async (
      groupCommitMaxRows: number,
      onInsert: (rows: number) => void,
      table = 'messages',
    ) => {
      // From the query log, which sees every statement the way it reaches the database, whether kysely
      // built it or the store wrote it as SQL text.
      const into = new RegExp(`^insert into [\`"]?${table}[\`"]? \\(([^)]*)\\)`);
      const db = await backend.open(uniqueId('db'), (event) => {
        const columns = into.exec(event.query.sql)?.[1]?.split(',').length;
        if (columns) onInsert(event.query.parameters.length / columns);
      });
      const s = handBuilt(db, undefined, groupCommitMaxRows);
      await s.migrate();
      await s.ensureConversation({ id: 'c', kind: 'direct', members: ['alice', 'bob'] });
      return s;
    };

    it('group commit: 200 concurrent appends share a few multi-row inserts', async () => {
      const batches: number[] = [];
      const s = await watchedStore(50, (rows) => batches.push(rows));
      const messages = Array.from({ length: 200 }, (_, i) => message('c', i + 1));
      await Promise.all([...messages].reverse().map((m) => s.append(m)));
      assert.deepEqual((await s.history('c', 0, 500)).messages, messages.map(stored));
      const total = batches.reduce((a, b) => a + b, 0);
      assert.equal(total, 200);
      assert.ok(Math.max(...batches) <= 50, `batch over groupCommitMaxRows: ${batches.join(',')}`);
      assert.ok(batches.length <= 10, `expected a few batches, got ${batches.length}`);
      assert.equal(await s.lastSeq('c'), 200);
      assert.equal((await s.getConversation('c'))?.lastSeq, 200, 'last_seq moved to the max');
    });

    it('group commit: 300 concurrent new conversations share a few transactions', async () => {
      const batches: number[] = [];
      const s = await watchedStore(500, (rows) => batches.push(rows), 'conversations');
      batches.length = 0; // the watched store's own first conversation
      const ids = Array.from({ length: 300 }, (_, i) => uniqueId(`burst${i}-`));
      const results = await Promise.all([
        ...ids.map((id, i) => s.ensureConversation({ id, kind: 'direct', members: [`u${i}`, 'shop'] })),
        s.ensureConversation({ id: ids[7]!, kind: 'direct', members: ['other', 'shop'] }), // a racing repeat
      ]);
      assert.equal(
        batches.reduce((a, b) => a + b, 0),
        300,
        `rows per insert: ${batches.join(',')}`,
      );
      assert.ok(batches.length <= 5, `expected a few transactions, got ${batches.length}`);
      ids.forEach((id, i) => {
        assert.equal(results[i]?.id, id);
        assert.deepEqual(results[i]?.members, [`u${i}`, 'shop']);
      });
      assert.deepEqual(results[300], results[7], 'the repeat gets the stored row, not its own members');
      assert.equal((await s.listConversations('u42', 10, null)).items[0]?.conversation.id, ids[42]);
      assert.equal((await s.listConversations('shop', 500, null)).items.length, 300);
      assert.equal((await s.listConversations('other', 10, null)).items.length, 0);
    });

    it('group commit: appends made while a flush runs form the next batch', async () => {
      const batches: number[] = [];
      const during: Promise<void>[] = [];
      const s = await watchedStore(500, (rows) => {
        batches.push(rows);
        // The first flush is under way: these queue up behind it.
        if (batches.length === 1)
          for (let seq = 2; seq <= 21; seq++) during.push(s.append(message('c', seq)));
      });
      await s.append(message('c', 1)); // idle: flushed at once, alone
      await Promise.all(during);
      assert.deepEqual(batches, [1, 20]);
      assert.equal(await s.lastSeq('c'), 21);
    });

    // Run on a hand-built store (its query log counts the batches) and on one from createStore, which for
    // SQLite sends each group commit to the SQLite thread as one transaction.
    const mixedBatch = async (s: Store, batches?: number[]) => {
      const convs = Array.from({ length: 40 }, () => uniqueId('mix'));
      await Promise.all(
        convs.map((c, i) => s.ensureConversation({ id: c, kind: 'direct', members: [`a${i}`, `b${i}`] })),
      );
      if (batches) batches.length = 0;
      // Conversation i: a{i} sends i+1 messages, then b{i} sends one when i is even; all in one burst.
      const sent: NewMessage[] = [];
      convs.forEach((c, i) => {
        for (let seq = 1; seq <= i + 1; seq++) sent.push(message(c, seq, { from: `a${i}`, to: [`b${i}`] }));
        if (i % 2 === 0) sent.push(message(c, i + 2, { from: `b${i}`, to: [`a${i}`] }));
      });
      await Promise.all(sent.map((m) => s.append(m)));
      if (batches) assert.ok(batches.length <= 3, `expected one or a few batches, got ${batches.join(',')}`);
      for (const [i, c] of convs.entries()) {
        const last = i % 2 === 0 ? i + 2 : i + 1;
        assert.equal((await s.getConversation(c))?.lastSeq, last, `last seq of conversation ${i}`);
        assert.equal((await s.history(c, 0, 100)).messages.length, last, `history of conversation ${i}`);
        const unread = async (uid: string) =>
          (await s.listConversations(uid, 10, null)).items.find((x) => x.conversation.id === c)?.unread;
        // A sender has read up to their own last message; the other member has read nothing.
        assert.equal(await unread(`a${i}`), i % 2 === 0 ? 1 : 0, `unread of a${i}`);
        assert.equal(await unread(`b${i}`), i % 2 === 0 ? 0 : i + 1, `unread of b${i}`);
      }
    };

    it('group commit: one batch over many conversations moves each one and each sender on its own', async () => {
      const batches: number[] = [];
      await mixedBatch(await watchedStore(500, (rows) => batches.push(rows)), batches);
      await mixedBatch(store);
    });

    it('group commit: a batch with a duplicate is rolled back whole, then committed row by row', async () => {
      const conv = uniqueId('dup');
      await direct(conv);
      for (let seq = 1; seq <= 3; seq++) await store.append(message(conv, seq));
      // bob "sends" seq 3 again in the same burst as alice's seq 4: the multi-row transaction fails on it and
      // must leave nothing behind (had its read-seq update stayed, bob would have read up to 3).
      const results = await Promise.allSettled([
        store.append(message(conv, 4)),
        store.append(message(conv, 3, { from: 'bob', to: ['alice'] })),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected'],
      );
      assert.equal((await store.history(conv, 0, 10)).messages.map((m) => m.seq).join(), '1,2,3,4');
      const bob = (await store.listConversations('bob', 50, null)).items.find(
        (i) => i.conversation.id === conv,
      );
      assert.equal(bob?.unread, 4, 'bob has read nothing');
    });

    it('last seq and updatedAt never move backwards', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      const late = message(conv, 3);
      await store.append(late);
      await store.append(message(conv, 1, { ts: late.ts - 10 }));
      const c = await store.getConversation(conv);
      assert.equal(c?.lastSeq, 3);
      assert.equal(c?.updatedAt, late.ts);
    });

    it('a duplicate clientMsgId fails alone; the rest of its batch commits', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      const first = message(conv, 1, { clientMsgId: 'k1' });
      await store.append(first);
      const batch = [
        message(conv, 2),
        message(conv, 3, { clientMsgId: 'k1' }),
        message(conv, 4, { clientMsgId: 'k1', from: 'bob', to: ['alice'] }), // another sender may reuse it
        message(conv, 5, { clientMsgId: 'k2' }),
        message(conv, 6, { clientMsgId: 'k2' }), // duplicate inside the same batch
      ];
      const results = await Promise.allSettled(batch.map((m) => store.append(m)));
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected'],
      );
      const dup = (results[1] as PromiseRejectedResult).reason as unknown;
      assert.ok(dup instanceof DuplicateClientMsgIdError, String(dup));
      assert.deepEqual(dup.existing, stored(first));
      const inBatch = (results[4] as PromiseRejectedResult).reason as unknown;
      assert.ok(inBatch instanceof DuplicateClientMsgIdError);
      assert.equal(inBatch.existing.id, batch[3]!.id);
      const seqs = (await store.history(conv, 0, 10)).messages.map((m) => m.seq);
      assert.deepEqual(seqs, [1, 2, 4, 5]);
    });

    it('a duplicate seq or message id rejects with a typed error', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      const first = message(conv, 1);
      await store.append(first);
      const seqErr = await store.append(message(conv, 1)).catch((e: unknown) => e);
      assert.ok(seqErr instanceof DuplicateSeqError, String(seqErr));
      assert.equal(seqErr.conversation, conv);
      assert.equal(seqErr.seq, 1);
      const idErr = await store.append(message(conv, 2, { id: first.id })).catch((e: unknown) => e);
      assert.ok(idErr instanceof DuplicateMessageIdError, String(idErr));
      assert.equal(await store.lastSeq(conv), 1);
    });

    it('finds a message by sender and clientMsgId', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      const m = message(conv, 1, { clientMsgId: uniqueId('k') });
      await store.append(m);
      assert.deepEqual(await store.findByClientMsgId('alice', m.clientMsgId!), stored(m));
      assert.equal(await store.findByClientMsgId('bob', m.clientMsgId!), undefined);
      assert.equal(await store.findByClientMsgId('alice', uniqueId('k')), undefined);
    });

    it('lists conversations newest first with stable cursors, last message and unread', async () => {
      const uid = uniqueId('u');
      const convs = [uniqueId('c'), uniqueId('c'), uniqueId('c'), uniqueId('c')];
      for (const c of convs) await direct(c, uid, 'peer');
      await store.append(message(convs[0]!, 1, { from: 'peer', to: [uid] }));
      const tied = ++seqClock; // convs 1 and 2 end with the same time: ordered by id
      await store.append(message(convs[1]!, 1, { ts: tied }));
      const last = message(convs[2]!, 2, { ts: tied });
      await store.append(message(convs[2]!, 1, { ts: tied - 5 }));
      await store.append(last);
      // convs[3] has no message: it stays at its creation time, below the others.

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.listConversations(uid, 1, cursor);
        assert.ok(page.items.length <= 1);
        seen.push(...page.items.map((i) => i.conversation.id));
        cursor = page.next;
      } while (cursor !== null);
      const [a, b] = convs[1]! > convs[2]! ? [convs[1]!, convs[2]!] : [convs[2]!, convs[1]!];
      assert.deepEqual(seen, [a, b, convs[0], convs[3]]);

      const all = await store.listConversations(uid, 10, null);
      assert.equal(all.next, null);
      const byId = new Map(all.items.map((i) => [i.conversation.id, i]));
      assert.deepEqual(byId.get(convs[2]!)?.lastMessage, stored(last));
      assert.equal(byId.get(convs[2]!)?.unread, 2);
      assert.equal(byId.get(convs[3]!)?.lastMessage, null);
      assert.equal(byId.get(convs[3]!)?.unread, 0);
      await assert.rejects(store.listConversations(uid, 1, 'not-a-cursor'), (err: unknown) => {
        return err instanceof CourierError && err.code === 'invalid_request' && err.field === 'cursor';
      });
    });

    it('markRead moves forward only and never past the last seq', async () => {
      const conv = uniqueId('c');
      await direct(conv);
      for (const seq of [1, 2, 3, 4, 5]) await store.append(message(conv, seq));
      assert.equal(await store.markRead(conv, 'bob', 3), 3);
      assert.equal(await store.markRead(conv, 'bob', 2), 3);
      const unreadOf = async (uid: string) =>
        (await store.listConversations(uid, 100, null)).items.find((i) => i.conversation.id === conv);
      assert.equal((await unreadOf('bob'))?.unread, 2);
      assert.equal((await unreadOf('bob'))?.readSeq, 3);
      assert.equal(await store.markRead(conv, 'bob', 99), 5);
      assert.equal((await unreadOf('bob'))?.unread, 0);
      const notFound = (err: unknown) => err instanceof CourierError && err.code === 'not_found';
      await assert.rejects(store.markRead(conv, 'mallory', 1), notFound);
      await assert.rejects(store.markRead(uniqueId('c'), 'bob', 1), notFound);
    });

    it('setAgent hands a customer-service conversation to another agent', async () => {
      const [merchant, conv] = [uniqueId('shop'), uniqueId('cs')];
      const [agent1, agent2] = [uniqueId('a'), uniqueId('a')];
      const kind = 'customer_service';
      await store.ensureConversation({ id: conv, kind, members: ['cust', agent1], merchant, agent: agent1 });
      const moved = await store.setAgent(conv, agent2);
      assert.equal(moved.agent, agent2);
      assert.deepEqual(moved.members, ['cust', agent2]);
      assert.deepEqual(await store.getConversation(conv), moved);
      const ids = async (uid: string) =>
        (await store.listConversations(uid, 100, null)).items.map((i) => i.conversation.id);
      assert.deepEqual(await ids(agent2), [conv]);
      assert.deepEqual(await ids(agent1), []);
      const sessions = await store.openSessions(merchant, [agent1, agent2]);
      assert.deepEqual(Object.fromEntries(sessions), { [agent1]: 0, [agent2]: 1 });
      assert.deepEqual(await store.setAgent(conv, agent2), moved, 'same agent again changes nothing');
      const d = uniqueId('c');
      await direct(d);
      await assert.rejects(store.setAgent(d, agent2), CourierError);
      await assert.rejects(store.setAgent(uniqueId('c'), agent2), CourierError);
    });

    it('replaces and reads merchant agents', async () => {
      const merchant = uniqueId('shop');
      assert.deepEqual(await store.getMerchantAgents(merchant), []);
      await store.setMerchantAgents(merchant, [
        { uid: 'b', maxSessions: 3 },
        { uid: 'a', maxSessions: 2 },
      ]);
      assert.deepEqual(await store.getMerchantAgents(merchant), [
        { uid: 'a', maxSessions: 2 },
        { uid: 'b', maxSessions: 3 },
      ]);
      await store.setMerchantAgents(merchant, [{ uid: 'c', maxSessions: 1 }]);
      assert.deepEqual(await store.getMerchantAgents(merchant), [{ uid: 'c', maxSessions: 1 }]);
      await store.setMerchantAgents(merchant, []);
      assert.deepEqual(await store.getMerchantAgents(merchant), []);
    });

    it('counts open sessions per agent of a merchant', async () => {
      const [merchant, other] = [uniqueId('shop'), uniqueId('shop')];
      const cs = (m: string, agent: string) =>
        store.ensureConversation({
          id: uniqueId('cs'),
          kind: 'customer_service',
          members: [uniqueId('u'), agent],
          merchant: m,
          agent,
        });
      await Promise.all([cs(merchant, 'a'), cs(merchant, 'a'), cs(merchant, 'b'), cs(other, 'a')]);
      const counts = await store.openSessions(merchant, ['a', 'b', 'c']);
      assert.deepEqual(Object.fromEntries(counts), { a: 2, b: 1, c: 0 });
      assert.deepEqual(await store.openSessions(merchant, []), new Map());
    });

    it('reads history from the replica and everything else from the primary', async () => {
      const [primaryDb, replicaDb] = [uniqueId('db'), uniqueId('db')];
      const replicaWriter = await openStore(replicaDb); // stands in for replication
      const s = handBuilt(await backend.open(primaryDb), await backend.open(replicaDb));
      await s.migrate();
      await replicaWriter.ensureConversation({ id: 'c', kind: 'direct', members: ['alice', 'bob'] });
      const m = message('c', 1, { clientMsgId: 'k' });
      await replicaWriter.append(m);
      assert.deepEqual((await s.history('c', 0, 10)).messages, [stored(m)]);
      assert.equal(await s.lastSeq('c'), 0);
      assert.equal(await s.findByClientMsgId('alice', 'k'), undefined);
    });

    it('answers ping, commits accepted appends on close, then refuses more', async () => {
      const db = uniqueId('db');
      const s = await openStore(db);
      assert.equal(await s.ping(), true);
      await s.ensureConversation({ id: 'c', kind: 'direct', members: ['alice', 'bob'] });
      const pending = [1, 2, 3].map((seq) => s.append(message('c', seq)));
      await Promise.all([s.close(), s.close(), ...pending]);
      await assert.rejects(s.append(message('c', 4)), StoreClosedError);
      assert.equal(await (await openStore(db)).lastSeq('c'), 3);
    });
  });
}

storeContract('SQLite', sqliteBackend, false);
storeContract('MariaDB', mysqlBackend, true);

describe('MySQL store configuration errors', () => {
  const config = (url: string) => configSchema.parse({ store: { driver: 'mysql', mysql: { url } } }).store;
  const namesUrlKey = (err: unknown) => err instanceof Error && err.message.startsWith('store.mysql.url: ');

  it('names store.mysql.url when the URL is invalid', async () => {
    await assert.rejects(createStore(config('not a url'), silentLogger()), namesUrlKey);
    await assert.rejects(createStore(config('postgres://h/db'), silentLogger()), namesUrlKey);
    await assert.rejects(createStore(config('mysql://127.0.0.1:3306'), silentLogger()), namesUrlKey);
  });

  it('names store.mysql.url and hides the password when the server is unreachable', async () => {
    const url = `mysql://root:s3cret@127.0.0.1:${await freePort()}/courier`;
    await assert.rejects(createStore(config(url), silentLogger()), (err: unknown) => {
      return namesUrlKey(err) && !(err as Error).message.includes('s3cret');
    });
  });
});
