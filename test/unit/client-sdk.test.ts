// The client SDK against a scripted fake server: duplicates, seq gaps, order, ACKs, reads and sync paging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fakeClient, msg, settle } from './client-sdk-fakes.js';

const seqs = (ms: { seq: number }[]) => ms.map((m) => m.seq);

describe('client SDK: receiving', () => {
  it('emits a message pushed twice once, and ACKs both copies in one batched frame', async () => {
    const t = fakeClient();
    const socket = await t.open();
    socket.push({ type: 'message', message: msg(1) });
    socket.push({ type: 'message', message: msg(1) }); // the worker's resend after a lost ACK
    await t.clock.advance(0);
    assert.deepEqual(seqs(t.received), [1]);
    assert.deepEqual(socket.frames('ack'), [{ type: 'ack', ids: ['d:u1:u2#1', 'd:u1:u2#1'] }]);
  });

  it('drops a message that a sync page brings again', async () => {
    const t = fakeClient();
    const socket = await t.open();
    socket.push({ type: 'message', message: msg(1) });
    socket.push({ type: 'message', message: msg(2) });
    const synced = t.client.sync('d:u1:u2');
    assert.deepEqual(socket.frames('sync').at(-1), {
      type: 'sync',
      conversation: 'd:u1:u2',
      after: 2,
      limit: 200,
    });
    socket.push({ type: 'sync', conversation: 'd:u1:u2', messages: [msg(2), msg(3)], hasMore: false });
    await synced;
    assert.deepEqual(seqs(t.received), [1, 2, 3]);
  });

  it('detects a seq gap, holds what follows, syncs the gap and emits in order', async () => {
    const t = fakeClient();
    const socket = await t.open();
    socket.push({ type: 'message', message: msg(1) });
    socket.push({ type: 'message', message: msg(4) });
    socket.push({ type: 'message', message: msg(5) });
    assert.deepEqual(seqs(t.received), [1], '4 and 5 wait for 2 and 3');
    assert.deepEqual(socket.frames('sync'), [
      { type: 'sync', conversation: 'd:u1:u2', after: 1, limit: 200 },
    ]);
    socket.push({
      type: 'sync',
      conversation: 'd:u1:u2',
      messages: [msg(2), msg(3), msg(4)],
      hasMore: false,
    });
    assert.deepEqual(seqs(t.received), [1, 2, 3, 4, 5]);
    assert.equal(socket.frames('sync').length, 1, 'one sync for the gap, not one per held message');
  });

  it('gives up on a hole after gapTimeoutMs, emits around it, and still emits the hole if it comes late', async () => {
    const t = fakeClient({ gapTimeoutMs: 1_000 });
    const socket = await t.open();
    socket.push({ type: 'message', message: msg(1) });
    socket.push({ type: 'message', message: msg(3) });
    socket.push({ type: 'sync', conversation: 'd:u1:u2', messages: [msg(3)], hasMore: false }); // 2 is burnt
    await t.clock.advance(999);
    assert.deepEqual(seqs(t.received), [1]);
    await t.clock.advance(1);
    assert.deepEqual(seqs(t.received), [1, 3]);
    socket.push({ type: 'message', message: msg(4) });
    socket.push({ type: 'message', message: msg(2) }); // late after all
    socket.push({ type: 'message', message: msg(2) });
    assert.deepEqual(seqs(t.received), [1, 3, 4, 2], 'late, but once');
  });

  it('keeps seq order per conversation whatever order pushes, repeats and sync pages arrive in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray([1, 2, 3, 4, 5, 6, 7, 8], { minLength: 8, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 6 }),
        async (order, repeats) => {
          const t = fakeClient();
          const socket = await t.open();
          for (const seq of [...order, ...repeats]) {
            socket.push({ type: 'message', message: msg(seq, 'd:a:u1') });
            socket.push({ type: 'message', message: msg(seq, 'd:b:u1') });
          }
          // Whatever was held asked for a sync; answer it with everything so far.
          for (const conversation of ['d:a:u1', 'd:b:u1']) {
            const all = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => msg(s, conversation));
            socket.push({ type: 'sync', conversation, messages: all, hasMore: false });
          }
          for (const conversation of ['d:a:u1', 'd:b:u1']) {
            const got = t.received.filter((m) => m.conversation === conversation);
            assert.deepEqual(seqs(got), [1, 2, 3, 4, 5, 6, 7, 8]);
          }
          t.client.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('syncs every known conversation after a reconnect, from its last seq, following hasMore pages', async () => {
    const t = fakeClient({ syncLimit: 2 });
    const first = await t.open();
    first.push({ type: 'message', message: msg(1, 'd:u1:u2') });
    first.push({ type: 'message', message: msg(1, 'd:u1:u3') });
    t.client.track('cs:shop:u1', 7); // the app loaded this one up to 7 itself
    first.drop(1006);
    await t.clock.advance(1_000);
    const second = t.last();
    assert.notEqual(second, first);
    second.accept();
    assert.deepEqual(
      second.frames('sync').map((f) => [f.conversation, f.after]),
      [
        ['d:u1:u2', 1],
        ['d:u1:u3', 1],
        ['cs:shop:u1', 7],
      ],
    );
    second.push({ type: 'sync', conversation: 'd:u1:u2', messages: [msg(2), msg(3)], hasMore: true });
    assert.deepEqual(second.frames('sync').at(-1), {
      type: 'sync',
      conversation: 'd:u1:u2',
      after: 3,
      limit: 2,
    });
    second.push({ type: 'sync', conversation: 'd:u1:u2', messages: [msg(4)], hasMore: false });
    assert.deepEqual(seqs(t.received.filter((m) => m.conversation === 'd:u1:u2')), [1, 2, 3, 4]);
  });

  it('after a reconnect, also syncs conversations that began while it was away (from the list)', async () => {
    const t = fakeClient();
    const first = await t.open();
    assert.equal(t.listCalls.length, 0, 'the first connect reads no list: the app chooses its history');
    first.push({ type: 'message', message: msg(1, 'd:u1:u2') });
    first.drop(1006);
    const summary = (id: string, last: number) => ({
      id,
      kind: 'direct' as const,
      peer: 'u9',
      merchant: null,
      lastMessage: msg(last, id),
      unread: last,
      updatedAt: t.clock.now(),
    });
    t.conversations.push(summary('d:u1:u9', 3), summary('d:u1:u2', 1));
    await t.clock.advance(1_000);
    t.last().accept();
    await t.clock.advance(0);
    assert.equal(t.listCalls.length, 1);
    assert.deepEqual(
      t
        .last()
        .frames('sync')
        .map((f) => [f.conversation, f.after]),
      [
        ['d:u1:u2', 1],
        ['d:u1:u9', 0],
      ],
      'the new conversation from its start; the known one once',
    );
  });

  it('paces its frames under the worker cap: a catch-up over many conversations is spread out', async () => {
    const t = fakeClient({ framePace: { perSecond: 10, burst: 2 } });
    for (let i = 0; i < 6; i++) t.client.track(`d:u1:p${i}`, 1);
    const socket = await t.open();
    assert.equal(socket.frames('sync').length, 2, 'the burst');
    socket.push({ type: 'message', message: msg(1) });
    await t.clock.advance(0);
    assert.equal(socket.frames('ack').length, 1, 'an ACK never waits behind the queue');
    await t.clock.advance(100);
    assert.equal(socket.frames('sync').length, 3);
    await t.clock.advance(300);
    assert.deepEqual(
      socket.frames('sync').map((f) => f.conversation),
      ['d:u1:p0', 'd:u1:p1', 'd:u1:p2', 'd:u1:p3', 'd:u1:p4', 'd:u1:p5'],
      'all of them, in order',
    );
  });

  it('emits read receipts, and sends markRead now or after the reconnect', async () => {
    const t = fakeClient();
    const reads: unknown[] = [];
    t.client.on('read', (r) => reads.push(r));
    const socket = await t.open();
    socket.push({ type: 'read', conversation: 'd:u1:u2', uid: 'u2', seq: 3 });
    assert.deepEqual(reads, [{ conversation: 'd:u1:u2', uid: 'u2', seq: 3 }]);
    t.client.markRead('d:u1:u2', 2);
    t.client.markRead('d:u1:u2', 1); // backwards: nothing to say
    assert.deepEqual(socket.frames('read'), [{ type: 'read', conversation: 'd:u1:u2', seq: 2 }]);
    socket.drop(1006);
    t.client.markRead('d:u1:u2', 5);
    await t.clock.advance(1_000);
    t.last().accept();
    assert.deepEqual(t.last().frames('read'), [{ type: 'read', conversation: 'd:u1:u2', seq: 5 }]);
  });

  it('starts a conversation seen first mid-way from seq 1 (history), or from that message with fromStart false', async () => {
    const full = fakeClient();
    const a = await full.open();
    a.push({ type: 'message', message: msg(3) });
    assert.deepEqual(a.frames('sync'), [{ type: 'sync', conversation: 'd:u1:u2', after: 0, limit: 200 }]);
    const live = fakeClient({ fromStart: false });
    const b = await live.open();
    b.push({ type: 'message', message: msg(3) });
    assert.deepEqual(seqs(live.received), [3]);
    assert.equal(b.frames('sync').length, 0);
  });

  it('reports an unreadable frame as a protocol error and keeps going', async () => {
    const t = fakeClient();
    const socket = await t.open();
    socket.onmessage?.({ data: '{"type":"message","message":{"id":7}}' });
    socket.push({ type: 'message', message: msg(1) });
    assert.deepEqual(
      t.errors.map((e) => e.code),
      ['protocol'],
    );
    assert.deepEqual(seqs(t.received), [1]);
    await settle();
  });
});
