// The chat rules with two business nodes on one MariaDB: each node is its own MessageService with its own
// store connection pool, round-robin state and filter, as two `cmd/business` processes would be. What
// they share is what a cluster shares: the database, the sequencer (Redis in a cluster) and the registry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CustomerService } from '../../internal/business/customer-service.js';
import { MessageService, type Sent } from '../../internal/business/message-service.js';
import { SendPolicy } from '../../internal/business/send-policy.js';
import { SensitiveWords } from '../../internal/business/sensitive-words-service.js';
import { configSchema } from '../../internal/config/schema.js';
import type { Dispatch } from '../../internal/dispatcher/dispatch.js';
import { CourierError } from '../../internal/errors.js';
import { silentLogger } from '../../internal/log/logger.js';
import { MemoryRegistry } from '../../internal/registry/memory-registry.js';
import { MemorySequencer } from '../../internal/sequencer/memory-sequencer.js';
import { createStore } from '../../internal/store/create-store.js';
import type { Store } from '../../internal/store/store.js';
import { startMariaDb, type MariaDb } from '../support/mariadb.js';
import { uniqueId } from '../support/servers.js';

const API_KEY = { kind: 'service' } as const;
const nobodyOnline: Dispatch = { dispatch: async (items) => items.map(() => ({ delivered: 0 })) };

interface Node {
  store: Store;
  messages: MessageService;
  words: SensitiveWords;
  customerService: CustomerService;
}

describe('chat rules on two business nodes sharing MariaDB', () => {
  let mariadb: MariaDb;
  let nodes: [Node, Node];
  const registry = new MemoryRegistry();
  const logger = silentLogger();

  before(async () => {
    mariadb = await startMariaDb();
    const url = await mariadb.createDatabase(uniqueId('db'));
    const config = configSchema.parse({ store: { driver: 'mysql', mysql: { url, poolSize: 8 } } }).store;
    const stores = await Promise.all([createStore(config, logger), createStore(config, logger)]);
    const sequencer = new MemorySequencer((c) => stores[0].lastSeq(c)); // stands in for the Redis one
    const node = (store: Store): Node => {
      const customerService = new CustomerService({ sessionIdleMs: 0 }, store, registry, logger);
      const words = new SensitiveWords({ file: '', mode: 'mask', pollMs: 60_000 }, store, logger);
      const rules = { customerService, policy: new SendPolicy({ openMessaging: false }, store) };
      const messages = new MessageService(
        { maxMessageBytes: 16_384 },
        store,
        sequencer,
        words.filter,
        nobodyOnline,
        logger,
        rules,
      );
      return { store, messages, words, customerService };
    };
    nodes = [node(stores[0]), node(stores[1])];
  });
  after(async () => {
    await Promise.allSettled(nodes.map((n) => n.store.close()));
    await mariadb?.stop();
  });

  const setAgents = (merchant: string, uids: string[], maxSessions: number) =>
    nodes[0].store.setMerchantAgents(
      merchant,
      uids.map((uid) => ({ uid, maxSessions })),
    );
  /** Sends through node i % 2, as a load balancer in front of two business nodes would. */
  const send = (i: number, body: Record<string, unknown>): Promise<Sent> =>
    nodes[i % 2]!.messages.send(API_KEY, { type: 'text', content: 'hi', ...body });

  it('assigns exactly one agent to concurrent first messages of one customer across both nodes', async () => {
    const merchant = uniqueId('shop');
    const agents = [uniqueId('a'), uniqueId('b'), uniqueId('c')];
    await setAgents(merchant, agents, 30);
    const customer = uniqueId('cust');
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(i, { from: customer, merchant })),
    );
    assert.equal(new Set(sent.map((s) => s.message.conversation)).size, 1);
    assert.equal(new Set(sent.map((s) => s.message.to.join())).size, 1, 'one agent');
    assert.deepEqual(
      sent.map((s) => s.message.seq).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const sessions = await nodes[1].store.openSessions(merchant, agents);
    assert.equal(
      [...sessions.values()].reduce((a, b) => a + b, 0),
      1,
    );
  });

  it('keeps every agent under maxSessions across nodes, online agents first', async () => {
    const merchant = uniqueId('shop');
    const [online, x, y] = [uniqueId('on'), uniqueId('x'), uniqueId('y')];
    await setAgents(merchant, [online, x, y], 4);
    await registry.add([
      {
        uid: online,
        connId: 'agent:web:1',
        info: {
          worker: 'w',
          ip: '127.0.0.1',
          role: 'agent',
          platform: 'web',
          channel: '',
          since: Date.now(),
        },
      },
    ]);
    const early = await Promise.all([0, 1, 2, 3].map((i) => send(i, { from: uniqueId('c'), merchant })));
    assert.ok(
      early.every((s) => s.message.to[0] === online),
      'the online agent first',
    );

    const later = await Promise.allSettled(
      Array.from({ length: 9 }, (_, i) => send(i, { from: uniqueId('d'), merchant })),
    );
    const refused = later.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 1, '12 places in all');
    const reason = (refused[0] as PromiseRejectedResult).reason as unknown;
    assert.ok(reason instanceof CourierError && reason.code === 'unavailable', String(reason));
    const sessions = await nodes[0].store.openSessions(merchant, [online, x, y]);
    assert.deepEqual(Object.fromEntries(sessions), { [online]: 4, [x]: 4, [y]: 4 });
  });

  it('a transfer made on one node holds on the other', async () => {
    const merchant = uniqueId('shop');
    const [first, second] = [uniqueId('a'), uniqueId('b')];
    await setAgents(merchant, [first], 30);
    const customer = uniqueId('cust');
    const opened = await send(0, { from: customer, merchant });
    await setAgents(merchant, [first, second], 30);
    await nodes[0].customerService.transfer(API_KEY, opened.message.conversation, second);
    assert.deepEqual((await send(1, { from: customer, merchant })).message.to, [second]);
    await assert.rejects(
      send(1, { from: first, conversation: opened.message.conversation }),
      (err: unknown) => {
        return err instanceof CourierError && err.code === 'forbidden';
      },
    );
  });

  it('applies a sensitive-word list PUT on one node on the other, persisted in the store', async () => {
    await nodes[0].words.put({ words: ['contraband'], mode: 'reject' });
    const [a, b] = [uniqueId('a'), uniqueId('b')];
    await send(1, { from: a, to: b, content: 'before' }); // node 1 has not polled yet
    await nodes[1].words.refresh(); // what its poll timer does every business.sensitiveWords.pollSeconds
    assert.deepEqual(nodes[1].words.get(), { words: ['contraband'], mode: 'reject' });
    await assert.rejects(send(1, { from: a, to: b, content: 'C-O-N-T-R-A-B-A-N-D' }), (err: unknown) => {
      return err instanceof CourierError && err.code === 'content_rejected';
    });
    await nodes[1].words.put({ words: ['contraband'], mode: 'mask' });
    await nodes[0].words.refresh();
    const masked = await send(0, { from: a, to: b, content: 'contraband' });
    assert.equal(masked.message.content, '**********');
    assert.equal(masked.result.filtered, true);
    const late = new SensitiveWords({ file: '', mode: 'reject', pollMs: 60_000 }, nodes[1].store, logger);
    await late.start(); // a node started later begins with the stored list, not its file
    late.close();
    assert.deepEqual(late.get(), { words: ['contraband'], mode: 'mask' });
  });
});
