// The sensitive-word filter in the send path of the all-in-one: masking over HTTP and WebSocket, object
// content, the word list API, and reject mode answering 422 with nothing stored.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Message } from '../../internal/protocol/message.js';
import { TestCourier } from '../support/courier.js';
import { tempDir, uniqueId } from '../support/servers.js';

interface Answer {
  id: string;
  conversation: string;
  seq: number;
  filtered: boolean;
  error?: { code: string; field?: string };
}

describe('sensitive-word filter in the send path', () => {
  let courier: TestCourier;
  const dir = tempDir('words');
  before(async () => {
    const file = join(dir.path, 'words.txt');
    writeFileSync(file, '# test list\nscam\n微信\n');
    courier = await TestCourier.start({
      business: { openMessaging: true, sensitiveWords: { file, mode: 'mask' } },
    });
  });
  after(async () => {
    await courier.stop();
    dir.remove();
  });

  const send = (body: Record<string, unknown>) =>
    courier.http<Answer>('POST', '/v1/messages', { type: 'text', ...body });
  const history = (conversation: string) =>
    courier.http<{ messages: Message[] }>('GET', `/v1/conversations/${conversation}/messages`);
  const putWords = (body: unknown) =>
    courier.http<{ words: string[]; mode: string; error?: { field: string } }>(
      'PUT',
      '/v1/sensitive-words',
      body,
    );

  it('starts with the configured file and masks evasions, stored and delivered masked', async () => {
    assert.deepEqual((await courier.http('GET', '/v1/sensitive-words')).json, {
      words: ['scam', '微信'],
      mode: 'mask',
    });
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const bobWeb = await courier.connect(bob);
    const res = await send({ from: alice, to: bob, content: 'not a S.c.A.m, add 微 信 or ｓｃａｍ' });
    assert.equal(res.status, 200);
    assert.equal(res.json.filtered, true);
    const masked = 'not a *******, add *** or ****';
    assert.equal((await bobWeb.next('message')).message.content, masked);
    assert.equal((await history(res.json.conversation)).json.messages[0]?.content, masked);
    const clean = await send({ from: alice, to: bob, content: 'all fine' });
    assert.equal(clean.json.filtered, false);
  });

  it('masks strings inside object content but not links', async () => {
    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const product = {
      productId: 'p-scam',
      title: 'Anti-scam lock',
      price: 9.5,
      url: 'https://x/scam',
      image: 'https://x/i',
    };
    const res = await send({ from: alice, to: bob, type: 'product', content: product });
    assert.equal(res.json.filtered, true);
    const stored = (await history(res.json.conversation)).json.messages[0]?.content;
    assert.deepEqual(stored, { ...product, title: 'Anti-**** lock' });
  });

  it('masks WebSocket sends: the sender’s `sent` frame carries the stored text', async () => {
    const alice = uniqueId('alice');
    const ws = await courier.connect(alice);
    ws.send({
      type: 'send',
      clientMsgId: 'm1',
      message: { to: uniqueId('bob'), type: 'text', content: 'scam!' },
    });
    assert.equal((await ws.next('sent')).message.content, '****!');
  });

  it('replaces the list at run time; reject mode answers 422 and stores nothing', async () => {
    const updated = await putWords({ words: [' Refund Fraud ', 'spam', 'spam'], mode: 'reject' });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.json, { words: ['Refund Fraud', 'spam'], mode: 'reject' });
    assert.deepEqual((await courier.http('GET', '/v1/sensitive-words')).json, updated.json);

    const [alice, bob] = [uniqueId('alice'), uniqueId('bob')];
    const fresh = await send({ from: alice, to: bob, content: 'this is s p a m' });
    assert.equal(fresh.status, 422);
    assert.deepEqual(fresh.json.error, {
      code: 'content_rejected',
      message: 'the content contains words that are not allowed',
      field: 'content',
    });
    assert.equal((await history(`d:${[alice, bob].sort().join(':')}`)).status, 404, 'no conversation either');

    const first = await send({ from: alice, to: bob, content: 'scam is fine now' });
    assert.deepEqual([first.status, first.json.filtered], [200, false], 'the old list is gone');
    const refused = await send({ from: alice, to: bob, type: 'custom', content: { note: ['REFUND-FRAUD'] } });
    assert.equal(refused.status, 422, 'inside objects too');
    const next = await send({ from: alice, to: bob, content: 'ok' });
    assert.equal(next.json.seq, first.json.seq + 1, 'the refused message took no seq');
    assert.deepEqual(
      (await history(first.json.conversation)).json.messages.map((m) => m.content),
      ['scam is fine now', 'ok'],
    );

    const ws = await courier.connect(alice);
    ws.send({ type: 'send', clientMsgId: 'r1', message: { to: bob, type: 'text', content: 'spam' } });
    const error = await ws.next('error');
    assert.deepEqual([error.code, error.ref], ['content_rejected', 'r1']);

    const merchant = uniqueId('shop');
    await courier.http('PUT', `/v1/merchants/${merchant}/agents`, {
      agents: [{ uid: 'ag', maxSessions: 1 }],
    });
    assert.equal((await send({ from: alice, merchant, content: 'spam' })).status, 422);
    const second = await send({ from: bob, merchant, content: 'hello' });
    assert.equal(second.status, 200, 'the refused message assigned no agent: the one place is still free');
  });

  it('keeps the mode when a PUT gives none, and refuses words with nothing to match', async () => {
    await putWords({ words: ['one'], mode: 'reject' });
    assert.deepEqual((await putWords({ words: ['two'] })).json, { words: ['two'], mode: 'reject' });
    const bad = await putWords({ words: ['fine', '…!?'] });
    assert.deepEqual([bad.status, bad.json.error?.field], [400, 'words.1']);
    assert.equal((await putWords({ words: ['x'], mode: 'block' })).status, 400);
    assert.deepEqual((await putWords({ words: [], mode: 'mask' })).json, { words: [], mode: 'mask' });
  });
});
