// Conversation lists, unread counts and read receipts across devices, presence, and the permission
// rules (one 403 per rule), on the all-in-one with business.openMessaging off (the default).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

interface Entry {
  id: string;
  kind: string;
  peer: string | null;
  merchant: string | null;
  lastMessage: Message | null;
  unread: number;
  updatedAt: number;
}
type List = { conversations: Entry[]; next: string | null };

describe('conversations, unread and read receipts', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start();
  });
  after(() => courier.stop());

  const send = (body: Record<string, unknown>, auth?: string) =>
    courier.http<{ conversation: string; seq: number; error?: { field?: string } }>(
      'POST',
      '/v1/messages',
      { type: 'text', content: 'hello', ...body },
      auth,
    );
  const list = (uid: string, auth: string, query = '') =>
    courier.http<List>('GET', `/v1/users/${uid}/conversations${query}`, undefined, auth);

  it('counts unread per user across two devices; the sender’s own messages are never unread', async () => {
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const [aliceWeb, aliceApp] = [await courier.connect(alice, 'web'), await courier.connect(alice, 'app')];
    const [bobWeb, bobApp] = [await courier.connect(bob, 'web'), await courier.connect(bob, 'app')];
    for (const content of ['one', 'two', 'three']) await send({ from: bob, to: alice, content });
    const aliceToken = await courier.token(alice, 'app');

    const before = await list(alice, aliceToken);
    assert.equal(before.status, 200);
    const [entry] = before.json.conversations;
    assert.equal(entry?.kind, 'direct');
    assert.equal(entry?.peer, bob);
    assert.equal(entry?.merchant, null);
    assert.equal(entry?.unread, 3);
    assert.equal(entry?.lastMessage?.content, 'three');
    const bobToken = await courier.token(bob);
    assert.equal((await list(bob, bobToken)).json.conversations[0]?.unread, 0, 'bob sent them all');

    // Alice reads up to 2 on her web device: both of bob's devices get the receipt.
    const conversation = entry!.id;
    aliceWeb.send({ type: 'read', conversation, seq: 2 });
    for (const device of [bobWeb, bobApp]) {
      const receipt = await device.next('read');
      assert.deepEqual(
        { conversation: receipt.conversation, uid: receipt.uid, seq: receipt.seq },
        { conversation, uid: alice, seq: 2 },
      );
    }
    assert.equal((await list(alice, aliceToken)).json.conversations[0]?.unread, 1, 'seen from the app too');

    // Alice answers from the app: her read seq moves to her message, bob has one unread.
    aliceApp.send({ type: 'send', clientMsgId: 'a1', message: { to: bob, type: 'text', content: 'hi bob' } });
    assert.equal((await aliceApp.next('sent')).message.seq, 4);
    assert.equal((await list(alice, aliceToken)).json.conversations[0]?.unread, 0);
    assert.equal((await list(bob, bobToken)).json.conversations[0]?.unread, 1);

    // HTTP read receipts reach the peer's devices too, and only move forward.
    const read = await courier.http('POST', `/v1/conversations/${conversation}/read`, { seq: 4 }, bobToken);
    assert.deepEqual(read.json, { conversation, uid: bob, seq: 4 });
    for (const device of [aliceWeb, aliceApp]) assert.equal((await device.next('read')).seq, 4);
    const back = await courier.http('POST', `/v1/conversations/${conversation}/read`, { seq: 1 }, bobToken);
    assert.equal((back.json as { seq: number }).seq, 4);
    assert.equal((await list(bob, bobToken)).json.conversations[0]?.unread, 0);
  });

  it('lists most recent first, page by page with a cursor', async () => {
    const me = uniqueId('me');
    const peers = Array.from({ length: 5 }, (_, i) => uniqueId(`peer${i}`));
    for (const peer of peers) await send({ from: peer, to: me });
    await send({ from: peers[0], to: me, content: 'latest' });
    const token = await courier.token(me);
    const seen: Entry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await list(me, token, query);
      assert.equal(page.status, 200, JSON.stringify(page.json));
      assert.ok(page.json.conversations.length <= 2);
      seen.push(...page.json.conversations);
      cursor = page.json.next;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen.map((e) => e.peer),
      [peers[0], peers[4], peers[3], peers[2], peers[1]],
    );
    assert.equal(seen[0]?.lastMessage?.content, 'latest');
    assert.equal(seen[0]?.unread, 2);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]!.updatedAt >= seen[i]!.updatedAt);
    const bad = await list(me, token, '?cursor=nonsense');
    assert.equal(bad.status, 400);
    assert.equal((await list(me, token, '?limit=1000')).status, 400);
  });

  it('shows presence to the user, peers and API keys', async () => {
    const [carol, dave, stranger] = [uniqueId('carol'), uniqueId('dave'), uniqueId('eve')];
    const phone = await courier.connect(carol, 'app');
    const laptop = await courier.connect(carol, 'web');
    await send({ from: dave, to: carol });
    type Presence = { devices: { connId: string; role: string; platform: string; since: number }[] };
    const res = await courier.http<Presence>('GET', `/v1/users/${carol}/presence`);
    assert.deepEqual(
      res.json.devices.map((d) => [d.connId, d.role, d.platform]),
      [
        [phone.welcome.connId, 'customer', 'app'],
        [laptop.welcome.connId, 'customer', 'web'],
      ],
    );
    assert.ok(res.json.devices.every((d) => d.since > 0));
    const asPeer = await courier.http(
      'GET',
      `/v1/users/${carol}/presence`,
      undefined,
      await courier.token(dave),
    );
    assert.equal(asPeer.status, 200);
    const strangerToken = await courier.token(stranger);
    assert.equal(
      (await courier.http('GET', `/v1/users/${carol}/presence`, undefined, strangerToken)).status,
      403,
    );
    const nobody = await courier.http<Presence>('GET', `/v1/users/${stranger}/presence`);
    assert.deepEqual(nobody.json, { devices: [] });
  });
});

describe('permissions (403 for each rule)', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start();
  });
  after(() => courier.stop());

  const send = (body: Record<string, unknown>, auth?: string) =>
    courier.http<{ conversation: string; error?: { code: string; field?: string } }>(
      'POST',
      '/v1/messages',
      { type: 'text', content: 'hello', ...body },
      auth,
    );

  it('a user token sends only as itself', async () => {
    const res = await send(
      { from: uniqueId('other'), to: uniqueId('x') },
      await courier.token(uniqueId('me')),
    );
    assert.deepEqual([res.status, res.json.error?.field], [403, 'from']);
  });

  it('a user token reads, lists and marks only its own conversations', async () => {
    const [a, b, mallory] = [uniqueId('a'), uniqueId('b'), uniqueId('mallory')];
    const sent = await send({ from: a, to: b });
    const token = await courier.token(mallory);
    const id = sent.json.conversation;
    assert.equal(
      (await courier.http('GET', `/v1/conversations/${id}/messages`, undefined, token)).status,
      403,
    );
    assert.equal((await courier.http('GET', `/v1/users/${a}/conversations`, undefined, token)).status, 403);
    assert.equal((await courier.http('POST', `/v1/conversations/${id}/read`, { seq: 1 }, token)).status, 403);
    const ws = await courier.connect(mallory);
    ws.send({ type: 'sync', conversation: id, after: 0, limit: 10 });
    assert.equal((await ws.next('error')).code, 'forbidden');
    const into = await send({ conversation: id }, token);
    assert.deepEqual([into.status, into.json.error?.field], [403, 'conversation']);
  });

  it('a customer writes only to merchants, their agents, and users it already shares a conversation with', async () => {
    const [customer, stranger, friend] = [uniqueId('c'), uniqueId('s'), uniqueId('f')];
    const [agent, otherAgent] = [uniqueId('ag'), uniqueId('oa')];
    const [merchant, otherShop] = [uniqueId('shop'), uniqueId('shop')];
    await courier.http('PUT', `/v1/merchants/${merchant}/agents`, {
      agents: [
        { uid: agent, maxSessions: 5 },
        { uid: uniqueId('ag2'), maxSessions: 5 },
      ],
    });
    await courier.http('PUT', `/v1/merchants/${otherShop}/agents`, {
      agents: [{ uid: otherAgent, maxSessions: 5 }],
    });
    const token = await courier.token(customer);

    const cold = await send({ to: stranger }, token);
    assert.deepEqual([cold.status, cold.json.error?.field], [403, 'to'], 'a stranger');
    const ws = await courier.connect(customer);
    ws.send({ type: 'send', clientMsgId: 'w1', message: { to: stranger, type: 'text', content: 'hi' } });
    assert.equal((await ws.next('error')).code, 'forbidden', 'the same rule over WebSocket');
    assert.equal(
      (await send({ to: otherAgent }, token)).status,
      403,
      'an agent of a merchant it never wrote to',
    );

    assert.equal((await send({ merchant }, token)).status, 200, 'merchants: always');
    assert.equal((await send({ to: agent }, token)).status, 200, 'an agent of that merchant');
    await send({ from: friend, to: customer }); // the friend (or a server for them) wrote first
    assert.equal((await send({ to: friend }, token)).status, 200, 'a user it shares a conversation with');
    const agentToken = await courier.token(agent, 'web', 'agent');
    assert.equal((await send({ to: stranger }, agentToken)).status, 200, 'agents are staff: not limited');
    assert.equal((await send({ from: customer, to: uniqueId('s2') })).status, 200, 'API keys are trusted');
  });

  it('API-key-only endpoints refuse user tokens', async () => {
    const token = await courier.token(uniqueId('u'));
    assert.equal((await courier.http('GET', '/v1/sensitive-words', undefined, token)).status, 403);
    assert.equal((await courier.http('PUT', '/v1/sensitive-words', { words: [] }, token)).status, 403);
    const agents = await courier.http('PUT', `/v1/merchants/${uniqueId('m')}/agents`, { agents: [] }, token);
    assert.equal(agents.status, 403);
  });
});

describe('open messaging', () => {
  it('lets customers write to anyone when business.openMessaging is true', async () => {
    const courier = await TestCourier.start({ business: { openMessaging: true } });
    try {
      const token = await courier.token(uniqueId('c'));
      const res = await courier.http(
        'POST',
        '/v1/messages',
        { to: uniqueId('s'), type: 'text', content: 'hi' },
        token,
      );
      assert.equal(res.status, 200);
    } finally {
      await courier.stop();
    }
  });
});
