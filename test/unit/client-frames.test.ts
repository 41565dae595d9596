import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClientFrame } from '../../internal/protocol/client-frames.js';
import type { ClientFrame } from '../../internal/protocol/frames.js';

function ok(value: unknown): ClientFrame {
  const res = parseClientFrame(typeof value === 'string' ? value : JSON.stringify(value));
  assert.equal(res.ok, true, `expected a frame, got ${JSON.stringify(res)}`);
  return (res as { frame: ClientFrame }).frame;
}

function bad(value: unknown): { code: string; message: string; ref?: string } {
  const res = parseClientFrame(typeof value === 'string' ? value : JSON.stringify(value));
  assert.equal(res.ok, false, `expected a refusal of ${JSON.stringify(value)}`);
  const err = res as { code: string; message: string; ref?: string };
  assert.equal(err.code, 'bad_frame');
  assert.ok(err.message.length > 0);
  return err;
}

test('valid frames of every type', () => {
  assert.deepEqual(ok({ type: 'ping' }), { type: 'ping' });
  assert.deepEqual(ok({ type: 'ack', ids: ['m1', 'm2'] }), { type: 'ack', ids: ['m1', 'm2'] });
  assert.deepEqual(ok({ type: 'read', conversation: 'd:a:b', seq: 0 }), {
    type: 'read',
    conversation: 'd:a:b',
    seq: 0,
  });
  assert.deepEqual(ok({ type: 'sync', conversation: 'c1', after: 7, limit: 500 }), {
    type: 'sync',
    conversation: 'c1',
    after: 7,
    limit: 500,
  });
  const send = {
    type: 'send',
    clientMsgId: 'c-1',
    message: { to: 'u2', type: 'text', content: 'hello' },
  };
  assert.deepEqual(ok(send), send);
  const product = {
    type: 'send',
    clientMsgId: 'c-2',
    message: { merchant: 'shop1', type: 'product', content: { productId: 'p1', price: 3 } },
  };
  assert.deepEqual(ok(product), product);
  ok({
    type: 'send',
    clientMsgId: 'x'.repeat(128),
    message: { conversation: 'c', type: 'custom', content: [1] },
  });
});

test('sync defaults: after 0, limit 50', () => {
  assert.deepEqual(ok({ type: 'sync', conversation: 'c1' }), {
    type: 'sync',
    conversation: 'c1',
    after: 0,
    limit: 50,
  });
});

test('not JSON or not an object', () => {
  for (const text of ['', 'nope', '{"type":', '[]', '[{"type":"ping"}]', 'null', '42', '"ping"', 'true']) {
    const err = bad(text);
    assert.equal(err.ref, undefined);
  }
});

test('missing or unknown type', () => {
  assert.equal(bad({}).ref, undefined);
  assert.equal(bad({ type: 'subscribe' }).ref, undefined);
  assert.equal(bad({ type: 7 }).ref, undefined);
  assert.equal(bad({ type: 'PING' }).ref, undefined);
});

test('unknown fields are refused, with the frame type as ref', () => {
  assert.equal(bad({ type: 'ping', extra: 1 }).ref, 'ping');
  assert.equal(bad({ type: 'ack', ids: ['a'], id: 'a' }).ref, 'ack');
  assert.equal(bad({ type: 'read', conversation: 'c', seq: 1, uid: 'u' }).ref, 'read');
  assert.equal(bad({ type: 'sync', conversation: 'c', before: 3 }).ref, 'sync');
  const err = bad({
    type: 'send',
    clientMsgId: 'c-9',
    message: { to: 'u', type: 'text', content: 'x', from: 'me' },
  });
  assert.equal(err.ref, 'c-9');
  assert.match(err.message, /message\.from/);
});

test('ack ids: non-empty array of bounded strings', () => {
  bad({ type: 'ack' });
  bad({ type: 'ack', ids: [] });
  bad({ type: 'ack', ids: 'm1' });
  bad({ type: 'ack', ids: [1] });
  bad({ type: 'ack', ids: [''] });
  bad({ type: 'ack', ids: ['x'.repeat(129)] });
  bad({ type: 'ack', ids: Array.from({ length: 1001 }, (_, i) => `m${i}`) });
  ok({ type: 'ack', ids: Array.from({ length: 1000 }, (_, i) => `m${i}`) });
});

test('send: clientMsgId and message shape', () => {
  const message = { to: 'u2', type: 'text', content: 'hi' };
  assert.equal(bad({ type: 'send', message }).ref, 'send');
  assert.equal(bad({ type: 'send', clientMsgId: '', message }).ref, 'send');
  assert.equal(bad({ type: 'send', clientMsgId: 'x'.repeat(129), message }).ref, 'send');
  assert.equal(bad({ type: 'send', clientMsgId: 5, message }).ref, 'send');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1' }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: 'hi' }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: [message] }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { ...message, type: 'video' } }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { to: 'u2', type: 'text' } }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { ...message, content: null } }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { ...message, to: 7 } }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { ...message, to: '' } }).ref, 'c1');
  assert.equal(bad({ type: 'send', clientMsgId: 'c1', message: { ...message, merchant: {} } }).ref, 'c1');
});

test('send: target choice is left to business', () => {
  // No target, or two targets, are business' "exactly one target" rule, reported with its field path.
  ok({ type: 'send', clientMsgId: 'c1', message: { type: 'text', content: 'x' } });
  ok({ type: 'send', clientMsgId: 'c1', message: { to: 'a', merchant: 'm', type: 'text', content: 'x' } });
});

test('sync: conversation, after and limit bounds', () => {
  bad({ type: 'sync' });
  bad({ type: 'sync', conversation: '' });
  bad({ type: 'sync', conversation: 5 });
  bad({ type: 'sync', conversation: 'c', after: -1 });
  bad({ type: 'sync', conversation: 'c', after: 1.5 });
  bad({ type: 'sync', conversation: 'c', after: '3' });
  bad({ type: 'sync', conversation: 'c', limit: 0 });
  bad({ type: 'sync', conversation: 'c', limit: 501 });
  bad({ type: 'sync', conversation: 'c', limit: null });
  bad({ type: 'sync', conversation: 'c', after: 1e300 });
  ok({ type: 'sync', conversation: 'c', limit: 1 });
});

test('read: conversation and seq', () => {
  bad({ type: 'read', conversation: 'c' });
  bad({ type: 'read', seq: 3 });
  bad({ type: 'read', conversation: 'c', seq: -1 });
  bad({ type: 'read', conversation: 'c', seq: 2.5 });
  bad({ type: 'read', conversation: 'c', seq: '2' });
  bad({ type: 'read', conversation: 'x'.repeat(257), seq: 2 });
});

test('hostile input never throws', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  bad(deep);
  bad('{"type":"ping","__proto__":{"x":1}}');
  bad('{"type":"ack","ids":["a"],"constructor":1}');
  bad('\u0000');
});
