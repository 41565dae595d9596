// Customer-service assignment end to end on the all-in-one: spread under load, online agents first,
// stickiness, the cap, concurrent first messages, transfer and reassignment after removal from the pool.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

interface SendAnswer {
  id: string;
  conversation: string;
  seq: number;
  to: string[];
  error?: { code: string; field?: string };
}

describe('customer-service assignment', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start();
  });
  after(() => courier.stop());

  const send = (body: Record<string, unknown>, auth?: string) =>
    courier.http<SendAnswer>('POST', '/v1/messages', { type: 'text', content: 'hello', ...body }, auth);
  const setAgents = async (merchant: string, uids: string[], maxSessions: number) => {
    const agents = uids.map((uid) => ({ uid, maxSessions }));
    const res = await courier.http('PUT', `/v1/merchants/${merchant}/agents`, { agents });
    assert.equal(res.status, 200, JSON.stringify(res.json));
  };
  const agentsOf = (n: number) => Array.from({ length: n }, (_, i) => uniqueId(`agent${i}`));
  const tally = (answers: { json: SendAnswer }[]) => {
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(a.json.to[0]!, (counts.get(a.json.to[0]!) ?? 0) + 1);
    return counts;
  };

  it('spreads 100 customers over 5 online agents (maxSessions 30): even, under the cap, sticky', async () => {
    const merchant = uniqueId('shop');
    const agents = agentsOf(5);
    await setAgents(merchant, agents, 30);
    const sockets = await Promise.all(agents.map((a) => courier.connect(a, 'web', { role: 'agent' })));
    const customers = Array.from({ length: 100 }, (_, i) => uniqueId(`cust${i}`));

    const first = await Promise.all(customers.map((c) => send({ from: c, merchant, content: 'first' })));
    assert.ok(
      first.every((a) => a.status === 200),
      JSON.stringify(first.find((a) => a.status !== 200)?.json),
    );
    const counts = tally(first);
    assert.deepEqual([...counts.keys()].sort(), [...agents].sort(), 'every agent got customers');
    const sizes = [...counts.values()];
    assert.ok(Math.max(...sizes) <= 30, `over the cap: ${sizes.join(',')}`);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `uneven: ${sizes.join(',')}`);
    assert.ok(
      first.every((a) => a.json.conversation.startsWith(`cs:${merchant}:`)),
      'cs:{merchant}:{customer}',
    );

    const second = await Promise.all(customers.map((c) => send({ from: c, merchant, content: 'again' })));
    second.forEach((a, i) => {
      assert.deepEqual(a.json.to, first[i]!.json.to, 'sticky');
      assert.equal(a.json.conversation, first[i]!.json.conversation);
      assert.equal(a.json.seq, 2);
    });

    // Each agent's socket received the first message of each of its customers.
    const agent0 = agents[0]!;
    const firsts = [];
    for (let i = 0; i < (counts.get(agent0) ?? 0); i++) {
      firsts.push(await sockets[0]!.wait((f) => f.type === 'message' && f.message.content === 'first'));
    }
    assert.ok(firsts.every((f) => f.type === 'message' && f.message.to[0] === agent0));
  });

  it('prefers online agents; with none online, assigns the least-loaded anyway', async () => {
    const merchant = uniqueId('shop');
    const agents = agentsOf(5);
    await setAgents(merchant, agents, 30);
    const online = agents.slice(3);
    await Promise.all(online.map((a) => courier.connect(a, 'app', { role: 'agent' })));
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => send({ from: uniqueId(`c${i}`), merchant })),
    );
    assert.deepEqual(Object.fromEntries(tally(answers)), { [online[0]!]: 5, [online[1]!]: 5 });

    const offlineShop = uniqueId('shop');
    const offline = agentsOf(2);
    await setAgents(offlineShop, offline, 30);
    const waiting = [];
    for (let i = 0; i < 4; i++) waiting.push(await send({ from: uniqueId(`w${i}`), merchant: offlineShop }));
    assert.deepEqual(Object.fromEntries(tally(waiting)), { [offline[0]!]: 2, [offline[1]!]: 2 });
    // The message waits for them: the agent finds it in their list when they come.
    const token = await courier.token(offline[0]!, 'web', 'agent');
    const list = await courier.http<{ conversations: { unread: number; peer: string }[] }>(
      'GET',
      `/v1/users/${offline[0]}/conversations`,
      undefined,
      token,
    );
    assert.equal(list.json.conversations.length, 2);
    assert.ok(list.json.conversations.every((c) => c.unread === 1 && c.peer.startsWith('w')));
  });

  it('answers 503 when every agent is at maxSessions, and creates nothing', async () => {
    const merchant = uniqueId('shop');
    await setAgents(merchant, agentsOf(2), 1);
    assert.equal((await send({ from: uniqueId('c'), merchant })).status, 200);
    assert.equal((await send({ from: uniqueId('c'), merchant })).status, 200);
    const late = uniqueId('c');
    const full = await send({ from: late, merchant });
    assert.equal(full.status, 503);
    assert.equal(full.json.error?.code, 'unavailable');
    const history = await courier.http('GET', `/v1/conversations/cs:${merchant}:${late}/messages`);
    assert.equal(history.status, 404);
  });

  it('assigns exactly one agent to concurrent first messages of one customer (HTTP and WebSocket)', async () => {
    const merchant = uniqueId('shop');
    const agents = agentsOf(4);
    await setAgents(merchant, agents, 30);
    await Promise.all(agents.map((a) => courier.connect(a, 'web', { role: 'agent' })));
    const customer = uniqueId('cust');
    const devices = [await courier.connect(customer, 'web'), await courier.connect(customer, 'app')];
    devices.forEach((d, i) =>
      [0, 1, 2].forEach((j) =>
        d.send({
          type: 'send',
          clientMsgId: `ws-${i}-${j}`,
          message: { merchant, type: 'text', content: 'x' },
        }),
      ),
    );
    const http = await Promise.all(Array.from({ length: 10 }, () => send({ from: customer, merchant })));
    const sent = [];
    for (const d of devices) for (let j = 0; j < 3; j++) sent.push((await d.next('sent')).message);
    const all = [...http.map((a) => a.json), ...sent];
    assert.equal(new Set(all.map((m) => m.conversation)).size, 1);
    assert.equal(new Set(all.map((m) => JSON.stringify(m.to))).size, 1, 'one agent for all of them');
    assert.deepEqual(
      all.map((m) => m.seq).sort((a, b) => a - b),
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
  });

  it('transfers: the new agent syncs the history, the old one can no longer reply or read', async () => {
    const merchant = uniqueId('shop');
    const [first, second, outsider] = agentsOf(3);
    await setAgents(merchant, [first!, second!], 30);
    const customer = uniqueId('cust');
    const opened = await send({ from: customer, merchant, content: 'where is my order?' });
    const conversation = opened.json.conversation;
    const old = await courier.connect(first!, 'web', { role: 'agent' });
    old.send({
      type: 'send',
      clientMsgId: 'r1',
      message: { conversation, type: 'text', content: 'checking' },
    });
    assert.deepEqual((await old.next('sent')).message.to, [customer]);

    const oldToken = await courier.token(first!, 'web', 'agent');
    const byStranger = await courier.http(
      'POST',
      `/v1/conversations/${conversation}/transfer`,
      { agent: second },
      await courier.token(second!, 'web', 'agent'),
    );
    assert.equal(byStranger.status, 403, 'only the assigned agent (or an API key) hands it over');
    const notInPool = await courier.http('POST', `/v1/conversations/${conversation}/transfer`, {
      agent: outsider,
    });
    assert.equal(notInPool.status, 400);
    const moved = await courier.http<{ agent: string; members: string[] }>(
      'POST',
      `/v1/conversations/${conversation}/transfer`,
      { agent: second },
      oldToken,
    );
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    assert.equal(moved.json.agent, second);
    assert.deepEqual(moved.json.members.sort(), [customer, second].sort());

    const next = await courier.connect(second!, 'app', { role: 'agent' });
    next.send({ type: 'sync', conversation, after: 0, limit: 50 });
    const sync = await next.next('sync');
    assert.deepEqual(
      sync.messages.map((m: Message) => m.content),
      ['where is my order?', 'checking'],
    );
    old.send({
      type: 'send',
      clientMsgId: 'r2',
      message: { conversation, type: 'text', content: 'still me' },
    });
    assert.equal((await old.next('error')).code, 'forbidden');
    const peek = await courier.http('GET', `/v1/conversations/${conversation}/messages`, undefined, oldToken);
    assert.equal(peek.status, 403);
    assert.deepEqual((await send({ from: customer, merchant })).json.to, [second]);
  });

  it('reassigns on the next customer message after the agent is removed from the pool', async () => {
    const merchant = uniqueId('shop');
    const [leaving, staying] = agentsOf(2);
    await setAgents(merchant, [leaving!], 30);
    const customer = uniqueId('cust');
    const opened = await send({ from: customer, merchant, content: 'hi' });
    assert.deepEqual(opened.json.to, [leaving]);
    await setAgents(merchant, [staying!], 30);

    const reply = await send({ from: leaving, conversation: opened.json.conversation, content: 'late' });
    assert.equal(reply.status, 403, 'removed from the pool: no more replies');
    const customerToken = await courier.token(customer);
    const next = await send({ conversation: opened.json.conversation, content: 'anyone?' }, customerToken);
    assert.equal(next.status, 200, JSON.stringify(next.json));
    assert.deepEqual(next.json.to, [staying]);
    assert.equal(next.json.conversation, opened.json.conversation);
    const history = await courier.http<{ messages: Message[] }>(
      'GET',
      `/v1/conversations/${opened.json.conversation}/messages`,
      undefined,
      await courier.token(staying!, 'web', 'agent'),
    );
    assert.deepEqual(
      history.json.messages.map((m) => m.content),
      ['hi', 'anyone?'],
    );
  });

  it('keeps agent uids from customers and refuses bad pools', async () => {
    const merchant = uniqueId('shop');
    const [agent] = agentsOf(1);
    await setAgents(merchant, [agent!], 3);
    const customer = uniqueId('cust');
    await send({ from: customer, merchant });
    const customerToken = await courier.token(customer);
    const asCustomer = await courier.http(
      'GET',
      `/v1/merchants/${merchant}/agents`,
      undefined,
      customerToken,
    );
    assert.equal(asCustomer.status, 403);
    const agentToken = await courier.token(agent!, 'web', 'agent');
    const asAgent = await courier.http('GET', `/v1/merchants/${merchant}/agents`, undefined, agentToken);
    assert.deepEqual(asAgent.json, { agents: [{ uid: agent, maxSessions: 3 }] });
    const list = await courier.http<{ conversations: { peer: string | null; merchant: string }[] }>(
      'GET',
      `/v1/users/${customer}/conversations`,
      undefined,
      customerToken,
    );
    assert.deepEqual(
      list.json.conversations.map((c) => [c.peer, c.merchant]),
      [[null, merchant]],
    );

    const put = (body: unknown, auth?: string) =>
      courier.http<{ error: { field: string } }>('PUT', `/v1/merchants/${merchant}/agents`, body, auth);
    assert.equal((await put({ agents: [] }, agentToken)).status, 403, 'API key only');
    const twice = await put({
      agents: [
        { uid: 'a', maxSessions: 1 },
        { uid: 'a', maxSessions: 2 },
      ],
    });
    assert.deepEqual([twice.status, twice.json.error.field], [400, 'agents.1.uid']);
    const zero = await put({ agents: [{ uid: 'a', maxSessions: 0 }] });
    assert.deepEqual([zero.status, zero.json.error.field], [400, 'agents.0.maxSessions']);
    const unknown = await send({ from: customer, merchant: uniqueId('nobody') });
    assert.deepEqual([unknown.status, unknown.json.error?.field], [404, 'merchant']);
    const ownShop = await send({ from: agent, merchant });
    assert.equal(ownShop.status, 403, 'an agent is not a customer of its own merchant');
  });
});
