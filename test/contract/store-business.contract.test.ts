// The Store contract for the chat rules (issue 4), on every backend: customer-service assignment, the
// sender's read seq, permission lookups and the stored sensitive-word list. The core contract (messages,
// history, lists) is store.contract.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema, type Config } from '../../internal/config/schema.js';
import { silentLogger } from '../../internal/log/logger.js';
import { createStore } from '../../internal/store/create-store.js';
import type { AgentLoad, CustomerServiceRequest, Store } from '../../internal/store/store.js';
import { startMariaDb } from '../support/mariadb.js';
import { tempDir, uniqueId } from '../support/servers.js';

interface Backend {
  /** Several stores may share one database (several business nodes). */
  multiNode: boolean;
  config(name: string): Promise<Config['store']>;
  stop(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = tempDir('store-biz');
  return {
    multiNode: false,
    config: async (name) =>
      configSchema.parse({ store: { sqlite: { path: join(dir.path, `${name}.db`) } } }).store,
    stop: async () => dir.remove(),
  };
}

async function mysqlBackend(): Promise<Backend> {
  const server = await startMariaDb();
  return {
    multiNode: true,
    config: async (name) => {
      const mysql = { url: await server.createDatabase(name), poolSize: 8 };
      return configSchema.parse({ store: { driver: 'mysql', mysql } }).store;
    },
    stop: () => server.stop(),
  };
}

/** Picks the least-loaded agent, first in uid order; records what it was shown. */
function leastLoaded(seen: AgentLoad[][] = []) {
  return (loads: AgentLoad[]) => {
    seen.push(loads);
    const open = loads.filter((l) => l.sessions < l.maxSessions);
    const best = open.sort((a, b) => a.sessions - b.sessions)[0];
    if (!best) throw new Error('everyone is full');
    return best.uid;
  };
}

function contract(name: string, makeBackend: () => Promise<Backend>): void {
  describe(`Store chat-rules contract: ${name}`, () => {
    let backend: Backend;
    let store: Store;
    const opened: Store[] = [];
    const open = async (db: string) => {
      const s = await createStore(await backend.config(db), silentLogger());
      opened.push(s);
      return s;
    };
    const request = (merchant: string, customer: string): CustomerServiceRequest => ({
      id: `cs:${merchant}:${customer}`,
      merchant,
      customer,
      activeSince: 0,
    });

    before(async () => {
      backend = await makeBackend();
      store = await open(uniqueId('db'));
    });
    after(async () => {
      await Promise.allSettled(opened.map((s) => s.close()));
      await backend?.stop();
    });

    it('assigns an agent on first contact, then keeps it (sticky)', async () => {
      const shop = uniqueId('shop');
      await store.setMerchantAgents(shop, [
        { uid: 'x', maxSessions: 5 },
        { uid: 'y', maxSessions: 5 },
      ]);
      const seen: AgentLoad[][] = [];
      const first = await store.assignCustomerService(request(shop, 'c1'), leastLoaded(seen));
      assert.equal(first.assigned, true);
      assert.equal(first.conversation.agent, 'x');
      assert.deepEqual(first.conversation.members, ['c1', 'x']);
      assert.equal(first.conversation.kind, 'customer_service');
      assert.equal(first.conversation.merchant, shop);
      assert.deepEqual(seen[0], [
        { uid: 'x', maxSessions: 5, sessions: 0 },
        { uid: 'y', maxSessions: 5, sessions: 0 },
      ]);
      const again = await store.assignCustomerService(request(shop, 'c1'), () => assert.fail('no choice'));
      assert.deepEqual(again, { conversation: first.conversation, assigned: false, previousAgent: null });
      const second = await store.assignCustomerService(request(shop, 'c2'), leastLoaded(seen));
      assert.equal(second.conversation.agent, 'y', 'x already has one');
      assert.deepEqual(await store.getConversation(first.conversation.id), first.conversation);
    });

    it('gives a new agent when the assigned one left the pool', async () => {
      const [shop, x, y] = [uniqueId('shop'), uniqueId('x'), uniqueId('y')];
      await store.setMerchantAgents(shop, [{ uid: x, maxSessions: 5 }]);
      const first = await store.assignCustomerService(request(shop, 'c'), leastLoaded());
      await store.setMerchantAgents(shop, [{ uid: y, maxSessions: 5 }]);
      const moved = await store.assignCustomerService(request(shop, 'c'), leastLoaded());
      assert.equal(moved.assigned, true);
      assert.equal(moved.previousAgent, x);
      assert.equal(moved.conversation.agent, y);
      assert.deepEqual(moved.conversation.members, ['c', y]);
      const ids = async (uid: string) =>
        (await store.listConversations(uid, 10, null)).items.map((i) => i.conversation.id);
      assert.deepEqual(await ids(y), [first.conversation.id]);
      assert.deepEqual(await ids(x), []);
    });

    it('changes nothing when the chooser refuses', async () => {
      const shop = uniqueId('shop');
      await store.setMerchantAgents(shop, [{ uid: 'x', maxSessions: 1 }]);
      const refuse = () => {
        throw new Error('busy');
      };
      await assert.rejects(store.assignCustomerService(request(shop, 'c'), refuse), /busy/);
      assert.equal(await store.getConversation(`cs:${shop}:c`), undefined);
    });

    it('counts only conversations active since activeSince', async () => {
      const shop = uniqueId('shop');
      await store.setMerchantAgents(shop, [{ uid: 'x', maxSessions: 9 }]);
      await store.assignCustomerService(request(shop, 'old'), leastLoaded());
      const seen: AgentLoad[][] = [];
      const future = Date.now() + 60_000;
      await store.assignCustomerService({ ...request(shop, 'new'), activeSince: future }, leastLoaded(seen));
      assert.equal(seen[0]?.[0]?.sessions, 0, 'the first conversation is idle as of then');
      assert.deepEqual(Object.fromEntries(await store.openSessions(shop, ['x'])), { x: 2 });
      assert.deepEqual(Object.fromEntries(await store.openSessions(shop, ['x'], future)), { x: 0 });
    });

    it('assigns exactly one agent to concurrent first contacts, and never over the cap', async (t) => {
      const db = uniqueId('db');
      // Several stores on one database stand for several business nodes.
      const nodes = backend.multiNode ? await Promise.all([open(db), open(db), open(db)]) : [await open(db)];
      const shop = uniqueId('shop');
      await nodes[0]!.setMerchantAgents(shop, [
        { uid: 'x', maxSessions: 4 },
        { uid: 'y', maxSessions: 4 },
      ]);
      const same = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          nodes[i % nodes.length]!.assignCustomerService(request(shop, 'c'), leastLoaded()),
        ),
      );
      assert.equal(same.filter((r) => r.assigned).length, 1);
      assert.equal(new Set(same.map((r) => r.conversation.agent)).size, 1);

      const many = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          nodes[i % nodes.length]!.assignCustomerService(request(shop, `d${i}`), leastLoaded()),
        ),
      );
      assert.equal(many.filter((r) => r.status === 'rejected').length, 3, '8 places, 1 taken by c');
      const counts = Object.fromEntries(await nodes[0]!.openSessions(shop, ['x', 'y']));
      assert.deepEqual(counts, { x: 4, y: 4 });
      if (!backend.multiNode) t.diagnostic('one store: SQLite has one writer per file');
    });

    it('moves the sender’s read seq with their message, so their own messages are never unread', async () => {
      const conv = uniqueId('c');
      await store.ensureConversation({ id: conv, kind: 'direct', members: ['ann', 'bob'] });
      const m = (seq: number, from: string) => ({
        id: uniqueId('m'),
        conversation: conv,
        seq,
        from,
        to: [from === 'ann' ? 'bob' : 'ann'],
        type: 'text' as const,
        content: `m${seq}`,
        ts: Date.now(),
      });
      // One group-commit batch with two senders, then a later batch. The store does not check membership
      // (business does), and a sender who is no member (an agent handed over while its message was on the
      // way) must not become one by having their read seq moved.
      const outsider = uniqueId('zed');
      await Promise.all([
        store.append(m(1, 'ann')),
        store.append(m(2, 'ann')),
        store.append(m(3, 'bob')),
        store.append({ ...m(4, outsider), to: ['ann', 'bob'] }),
      ]);
      await store.append(m(5, 'bob'));
      const unread = async (uid: string) =>
        (await store.listConversations(uid, 10, null)).items.find((i) => i.conversation.id === conv);
      assert.deepEqual([(await unread('ann'))?.readSeq, (await unread('ann'))?.unread], [2, 3]);
      assert.deepEqual([(await unread('bob'))?.readSeq, (await unread('bob'))?.unread], [5, 0]);
      assert.deepEqual((await store.listConversations(outsider, 10, null)).items, []);
      assert.equal(await store.sharesConversation(outsider, 'ann'), false);
      assert.equal(await store.markRead(conv, 'ann', 1), 2, 'a read receipt never moves it back');
    });

    it('answers who shares a conversation and which merchants an agent serves', async () => {
      const [a, b, c] = [uniqueId('u'), uniqueId('u'), uniqueId('u')];
      await store.ensureConversation({ id: uniqueId('g'), kind: 'group', members: [a, b, 'z'] });
      assert.equal(await store.sharesConversation(a, b), true);
      assert.equal(await store.sharesConversation(b, a), true);
      assert.equal(await store.sharesConversation(a, c), false);
      const [s1, s2] = [uniqueId('shop'), uniqueId('shop')].sort();
      await store.setMerchantAgents(s1!, [{ uid: c, maxSessions: 1 }]);
      await store.setMerchantAgents(s2!, [{ uid: c, maxSessions: 1 }]);
      assert.deepEqual(await store.agentMerchants(c), [s1, s2]);
      assert.deepEqual(await store.agentMerchants(a), []);
    });

    it('stores the sensitive-word list with a version that moves by one per write', async () => {
      const db = uniqueId('db');
      const [one, two] = backend.multiNode ? [await open(db), await open(db)] : [await open(db), undefined];
      assert.equal(await one.getSensitiveWords(), undefined);
      assert.equal(await one.sensitiveWordsVersion(), 0);
      assert.equal(await one.setSensitiveWords({ words: ['bad', '微信', 'ключ'], mode: 'mask' }), 1);
      const other = two ?? one;
      assert.deepEqual(await other.getSensitiveWords(), {
        words: ['bad', '微信', 'ключ'],
        mode: 'mask',
        version: 1,
      });
      const versions = await Promise.all(
        [1, 2, 3].map((i) => (i % 2 ? one : other).setSensitiveWords({ words: [`w${i}`], mode: 'reject' })),
      );
      assert.deepEqual(versions.sort(), [2, 3, 4]);
      assert.equal(await other.sensitiveWordsVersion(), 4);
    });
  });
}

contract('SQLite', sqliteBackend);
contract('MariaDB', mysqlBackend);
