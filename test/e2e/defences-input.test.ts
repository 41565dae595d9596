// Bad input gets a clear answer and changes nothing: every class of malformed HTTP body, WebSocket frame and
// token, against a running all-in-one, each followed by a check that no message or conversation appeared.
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { JwtTokens } from '../../internal/auth/tokens.js';
import { directConversationId } from '../../internal/protocol/message.js';
import { API_KEY, TestClient, TestCourier } from '../support/courier.js';
import { uniqueId } from '../support/servers.js';

type Err = { error: { code: string; message: string; field?: string } };

describe('bad input', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({
      business: { openMessaging: true, maxBatch: 4, maxMessageBytes: 1024 },
    });
  });
  after(() => courier.stop());

  /** POST with a raw body (string or bytes) and headers; the answer's status and error body. */
  const post = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(courier.baseUrl + path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${API_KEY}`,
        'content-type': 'application/json',
        ...headers,
      },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });
    return { status: res.status, json: (await res.json()) as Err };
  };
  /** Nothing was stored between from and to: the direct conversation does not even exist. */
  const nothingStored = async (from: string, to: string) => {
    const id = encodeURIComponent(directConversationId(from, to));
    assert.equal((await courier.http('GET', `/v1/conversations/${id}/messages`)).status, 404);
  };

  it('malformed JSON, non-objects, wrong types and unknown fields: 400 naming the field', async () => {
    const [a, b] = [uniqueId('a'), uniqueId('b')];
    const ok = { from: a, to: b, type: 'text', content: 'x' };
    const cases: [string, string, string | undefined][] = [
      ['{"from":', 'invalid_json', undefined],
      ['{"from":"a",}', 'invalid_json', undefined],
      ['null', 'invalid_json', undefined],
      ['"text"', 'invalid_json', undefined],
      ['[]', 'invalid_request', undefined],
      [JSON.stringify({ ...ok, to: 5 }), 'invalid_request', 'to'],
      [JSON.stringify({ ...ok, type: ['text'] }), 'invalid_request', 'type'],
      [JSON.stringify({ ...ok, content: null }), 'invalid_request', 'content'],
      [JSON.stringify({ ...ok, clientMsgId: 12 }), 'invalid_request', 'clientMsgId'],
      [JSON.stringify({ ...ok, extra: true }), 'invalid_request', 'extra'],
      [
        JSON.stringify({ ...ok, type: 'image', content: { url: 'http://i', width: 1, height: 1, alt: 'x' } }),
        'invalid_request',
        'content.alt',
      ],
    ];
    for (const [body, code, field] of cases) {
      const res = await post('/v1/messages', body);
      assert.equal(res.status, 400, body);
      assert.equal(res.json.error.code, code, body);
      if (field) assert.equal(res.json.error.field, field, body);
    }
    const batch = await post('/v1/messages/batch', JSON.stringify({ messages: [{ ...ok, to: 7 }] }));
    assert.equal((batch.json as unknown as { results: Err[] }).results[0]?.error.field, 'to');
    await nothingStored(a, b);
  });

  it('oversized, non-UTF-8, too deep and overflowing bodies: 413 or 400, nothing stored', async () => {
    const [a, b] = [uniqueId('a'), uniqueId('b')];
    const head = `{"from":"${a}","to":"${b}","type":"custom","content":`;
    const huge = await post('/v1/messages', head + JSON.stringify('x'.repeat(20_000)) + '}');
    assert.deepEqual([huge.status, huge.json.error.code], [413, 'too_large']);
    const big = await post('/v1/messages', head + JSON.stringify('x'.repeat(2_000)) + '}');
    assert.deepEqual([big.status, big.json.error.code], [413, 'too_large'], 'content over maxMessageBytes');
    const utf8 = await post(
      '/v1/messages',
      Buffer.concat([Buffer.from(head + '"caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    );
    assert.deepEqual([utf8.status, utf8.json.error.message], [400, 'the body is not valid UTF-8']);
    const deep = await post('/v1/messages', head + '['.repeat(200) + ']'.repeat(200) + '}');
    assert.equal(deep.status, 400);
    assert.match(deep.json.error.message, /nested deeper/);
    const inf = await post('/v1/messages', head + '{"price":1e999}}');
    assert.equal(inf.status, 400, 'would be stored as null');
    const proto = await post('/v1/messages', head + '{"__proto__":{"x":1},"y":2}}');
    assert.equal(proto.status, 400, 'validation would drop the key and store {"y":2}');
    await nothingStored(a, b);
  });

  it('forged, expired, alg:none, wrong-key and wrong-alg tokens: 401 on HTTP and before the upgrade', async () => {
    const subject = { uid: uniqueId('t'), role: 'customer' as const, platform: 'web' };
    const good = (await courier.app.tokens.sign(subject)).token;
    const [header, payload] = good.split('.') as [string, string];
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    const other = await JwtTokens.create({
      ...courier.config.auth.jwt,
      secret: 'another-secret-another-secret-0000',
    });
    const hs512 = await new SignJWT({ role: 'customer', platform: 'web' })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject(subject.uid)
      .setIssuer(courier.config.auth.jwt.issuer)
      .setExpirationTime('1h')
      .sign(createSecretKey(Buffer.from(courier.config.auth.jwt.secret)));
    const cases: [string, string, string][] = [
      ['forged signature', `${header}.${payload}.${'A'.repeat(43)}`, 'unauthorized'],
      [
        'forged claims',
        `${header}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${good.split('.')[2]}`,
        'unauthorized',
      ],
      ['expired', (await courier.app.tokens.sign(subject, -60)).token, 'token_expired'],
      ['alg none', none, 'unauthorized'],
      ['wrong key', (await other.sign(subject)).token, 'unauthorized'],
      ['wrong alg', hs512, 'unauthorized'],
      ['garbage', 'not.a.jwt', 'unauthorized'],
    ];
    for (const [what, token, code] of cases) {
      const res = await courier.http<Err>(
        'POST',
        '/v1/messages',
        { to: 'x', type: 'text', content: 'x' },
        token,
      );
      assert.deepEqual([res.status, res.json.error.code], [401, code], what);
      const ws = await TestClient.open(courier.wsUrl, token).then(
        () => 101,
        (e: { status?: number }) => e.status,
      );
      assert.equal(ws, 401, `${what} (WebSocket)`);
    }
    await nothingStored(subject.uid, 'x');
  });

  it('huge limit, negative after and read seq: 400; unknown conversations: 404', async () => {
    const sent = await courier.http<{ conversation: string }>('POST', '/v1/messages', {
      from: uniqueId('h'),
      to: uniqueId('h'),
      type: 'text',
      content: 'one',
    });
    const conv = encodeURIComponent(sent.json.conversation);
    for (const q of [
      'limit=1000000',
      'limit=1e3',
      'limit=-1',
      'after=-1',
      'after=1.5',
      'after=99999999999999999999',
    ]) {
      const res = await courier.http<Err>('GET', `/v1/conversations/${conv}/messages?${q}`);
      assert.equal(res.status, 400, q);
    }
    const read = await courier.http<Err>('POST', `/v1/conversations/${conv}/read`, { seq: -1, uid: 'x' });
    assert.deepEqual([read.status, read.json.error.field], [400, 'seq']);
    assert.equal((await courier.http('GET', '/v1/conversations/no-such-thing/messages')).status, 404);
    assert.equal(
      (await courier.http('POST', '/v1/conversations/no-such-thing/read', { seq: 1, uid: 'x' })).status,
      404,
    );
    const history = await courier.http<{ messages: unknown[] }>('GET', `/v1/conversations/${conv}/messages`);
    assert.equal(history.json.messages.length, 1);
  });

  it('refusals Express makes itself are 400 with the error body', async () => {
    assert.equal((await courier.http<Err>('GET', '/v1/conversations/%E0%A4%A/messages')).status, 400);
    const gzip = await post('/v1/messages', '{}', { 'content-encoding': 'gzip' });
    assert.deepEqual([gzip.status, gzip.json.error.code], [400, 'invalid_request']);
    const charset = await post('/v1/messages', '{}', { 'content-type': 'application/json; charset=latin1' });
    assert.deepEqual([charset.status, charset.json.error.code], [400, 'invalid_request']);
  });

  it('WebSocket: bad frames get an error frame and change nothing; the connection stays usable', async () => {
    const [uid, peer] = [uniqueId('w'), uniqueId('p')];
    const c = await courier.connect(uid);
    const frames: unknown[] = [
      '{"type":',
      '[1,2]',
      { type: 'nope' },
      { type: 'send', clientMsgId: 'c1', message: { to: peer, type: 'text', content: 'x' }, extra: 1 },
      { type: 'send', clientMsgId: 'c2', message: { to: peer, type: 'text' } },
      { type: 'send', clientMsgId: 'c3', message: { to: 5, type: 'text', content: 'x' } },
      {
        type: 'send',
        clientMsgId: 'c4',
        message: {
          to: peer,
          type: 'text',
          content: { deep: JSON.parse('['.repeat(80) + ']'.repeat(80)) as unknown },
        },
      },
      `{"type":"send","clientMsgId":"c5","message":{"to":"${peer}","type":"custom","content":{"n":1e999}}}`,
      `{"type":"send","clientMsgId":"c6","message":{"to":"${peer}","type":"custom","content":{"__proto__":{}}}}`,
      { type: 'sync', conversation: 'x', after: -1 },
      { type: 'sync', conversation: 'x', limit: 1e9 },
      { type: 'read', conversation: 'x', seq: -1 },
      { type: 'ack', ids: [] },
    ];
    for (const frame of frames) {
      c.send(frame);
      const error = await c.next('error');
      assert.equal(error.code, 'bad_frame', JSON.stringify(frame).slice(0, 80));
    }
    c.send({ type: 'sync', conversation: `d:${uid}:nowhere`, after: 0 });
    assert.equal((await c.next('error')).code, 'not_found');
    c.send({ type: 'read', conversation: 'no-such-conversation', seq: 1 });
    assert.equal((await c.next('error')).code, 'not_found');
    c.send({ type: 'ping' });
    await c.next('pong');
    await nothingStored(uid, peer);
  });

  it('WebSocket: a binary frame closes with 4009; invalid UTF-8 in a text frame closes with 1007 (ws)', async () => {
    const binary = await courier.connect(uniqueId('bin'));
    binary.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    assert.equal((await binary.closed).code, 4009);
    const broken = await courier.connect(uniqueId('utf'));
    broken.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    assert.equal((await broken.closed).code, 1007);
  });
});
