import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contentByType,
  outgoingMessageSchema,
  parseOrThrow,
  parseOutgoingMessage,
  parseSendRequest,
  sendRequestSchema,
  targetOf,
  validateContent,
} from '../../internal/business/validate.js';
import { sendBatch } from '../../internal/business/http-api.js';
import { CourierError } from '../../internal/errors.js';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CourierError, String(err));
    return err.field;
  }
  assert.fail('expected a validation error');
}

describe('message validation', () => {
  it('accepts each message type with its content shape', () => {
    const ok: [Parameters<typeof validateContent>[0], unknown][] = [
      ['text', 'hello'],
      ['image', { url: 'https://cdn.example/a.png', width: 640, height: 480 }],
      [
        'product',
        {
          productId: 'p1',
          title: 'Kyoto tour',
          price: 129.5,
          url: 'https://shop/p1',
          image: 'https://cdn/p1.jpg',
        },
      ],
      ['order', { orderId: 'o1', status: 'paid', amount: '259.00', currency: 'EUR' }],
      ['custom', { kind: 'coupon', code: 'X1' }],
      ['custom', 'a plain string'],
    ];
    for (const [type, content] of ok)
      assert.deepEqual(validateContent(type, content as never, 16_384), content);
  });

  it('names the offending field as a path', () => {
    assert.equal(
      fieldOf(() => validateContent('image', { url: 'ftp://x', width: 1, height: 1 }, 16_384)),
      'content.url',
    );
    assert.equal(
      fieldOf(() =>
        validateContent(
          'product',
          { productId: 'p', title: 't', price: -1, url: 'https://u', image: 'https://i' },
          16_384,
        ),
      ),
      'content.price',
    );
    assert.equal(
      fieldOf(() => validateContent('order', { orderId: 'o', status: 'paid' }, 16_384)),
      'content.amount',
    );
    assert.equal(
      fieldOf(() => validateContent('text', '', 16_384)),
      'content',
    );
    assert.equal(
      fieldOf(() => validateContent('text', { a: 1 }, 16_384)),
      'content',
    );
    for (const wrong of [[1, 2], 42, null, true]) {
      assert.throws(() => validateContent('custom', wrong as never, 16_384), /content: has the wrong type/);
    }
    assert.equal(
      fieldOf(() => parseOrThrow(sendRequestSchema, { to: 'b', type: 'text', content: 'x', extra: 1 })),
      'extra',
    );
    assert.equal(
      fieldOf(() =>
        parseOrThrow(sendRequestSchema, { to: 'b', type: 'text', content: 'x', clientMsgId: '' }),
      ),
      'clientMsgId',
    );
  });

  it('refuses content over the size limit with 413', () => {
    assert.throws(
      () => validateContent('text', 'é'.repeat(600), 1000),
      (e: unknown) => e instanceof CourierError && e.status === 413 && e.field === 'content',
    );
  });

  it('wants exactly one target', () => {
    assert.deepEqual(targetOf({ to: 'b' }), { kind: 'to', uid: 'b' });
    assert.deepEqual(targetOf({ conversation: 'd:a:b' }), { kind: 'conversation', id: 'd:a:b' });
    assert.equal(
      fieldOf(() => targetOf({})),
      'to',
    );
    assert.equal(
      fieldOf(() => targetOf({ to: 'b', conversation: 'c' })),
      'conversation',
    );
  });
});

describe('batch sending', () => {
  it('keeps order within a target and answers every item in place', async () => {
    const calls: string[] = [];
    const results = await sendBatch(
      [
        { to: 'a', content: '1' },
        { to: 'b', content: '2' },
        { to: 'a', content: 'boom' },
        { to: 'a', content: '3' },
      ],
      async (input) => {
        const m = input as { to: string; content: string };
        calls.push(m.content);
        if (m.content === 'boom') throw new CourierError('invalid_request', 'boom', 'content');
        return {
          message: {} as never,
          result: {
            id: m.content,
            conversation: m.to,
            seq: 0,
            ts: 0,
            to: [m.to],
            filtered: false,
            delivered: 0,
          },
        };
      },
    );
    assert.deepEqual(
      results.map((r) => ('error' in r ? r.error.field : r.id)),
      ['1', '2', 'content', '3'],
    );
    assert.deepEqual(
      calls.filter((c) => c !== '2'),
      ['1', 'boom', '3'],
      'same-target messages are sent one after another, in order',
    );
  });
});

describe('parseSendRequest and parseOutgoingMessage (the fast path)', () => {
  const long = (n: number) => 'x'.repeat(n);
  const inputs: unknown[] = [
    { to: 'bob', type: 'text', content: 'hi' },
    { from: 'ann', to: 'bob', type: 'custom', content: { k: 1 }, clientMsgId: 'c-1' },
    { merchant: 'shop', type: 'product', content: { productId: 'p' } },
    { conversation: long(191), type: 'order', content: {} },
    { conversation: long(192), type: 'order', content: {} },
    { conversation: '', type: 'text', content: 'x' },
    { to: 'bad uid!', type: 'text', content: 'x' },
    { to: long(65), type: 'text', content: 'x' },
    { to: 'bob', type: 'video', content: 'x' },
    { to: 'bob', type: 'text' },
    { to: 'bob', content: 'x' },
    { to: 'bob', type: 'text', content: 'x', extra: 1 },
    { to: 'bob', type: 'text', content: 'x', constructor: 1 },
    { to: 'bob', type: 'text', content: 'x', clientMsgId: '' },
    { to: 'bob', type: 'text', content: 'x', clientMsgId: long(129) },
    { to: 'bob', type: 'text', content: 'x', clientMsgId: 7 },
    { to: 7, type: 'text', content: 'x' },
    { from: null, to: 'bob', type: 'text', content: 'x' },
    { to: 'bob', type: 'text', content: null },
    [],
    null,
    'text',
  ];
  const outcome = (fn: () => unknown) => {
    try {
      return { ok: fn() };
    } catch (err) {
      return { error: err instanceof CourierError ? [err.message, err.field] : String(err) };
    }
  };

  it('validateContent accepts and refuses text and custom content exactly as their zod rules do', () => {
    const contents: unknown[] = [
      'hi',
      '',
      ' ',
      {},
      { k: 1 },
      [],
      ['x'],
      0,
      1,
      true,
      null,
      Object.create(null),
    ];
    for (const type of ['text', 'custom'] as const) {
      for (const content of contents) {
        assert.deepEqual(
          outcome(() => validateContent(type, content as never, 16_384)),
          outcome(() => parseOrThrow(contentByType[type], content, ['content'])),
          `${type} ${JSON.stringify(content)}`,
        );
      }
    }
  });

  it('accepts and refuses exactly what the zod schemas do, with the same errors', () => {
    for (const input of inputs) {
      assert.deepEqual(
        outcome(() => parseSendRequest(input)),
        outcome(() => parseOrThrow(sendRequestSchema, input)),
        JSON.stringify(input),
      );
      const message =
        input && typeof input === 'object' && !Array.isArray(input)
          ? Object.fromEntries(Object.entries(input).filter(([k]) => k !== 'from' && k !== 'clientMsgId'))
          : input;
      assert.deepEqual(
        outcome(() => parseOutgoingMessage(message)),
        outcome(() => parseOrThrow(outgoingMessageSchema, message, ['message'])),
        JSON.stringify(message),
      );
    }
  });
});
