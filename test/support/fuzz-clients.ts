// The fuzz test's two clients and its bookkeeping: one HTTP request or one WebSocket session of hostile input
// at a time, each answer checked against DESIGN §3 and §4, and every accepted message recorded where it was
// stored so the test can compare the store with what was acknowledged.
import { WebSocket } from 'ws';
import { jsonProblem } from '../../internal/protocol/json-guard.js';
import { directConversationId, UID_PATTERN } from '../../internal/protocol/message.js';
import type { TestCourier } from './courier.js';
import {
  damage,
  mutate,
  randomString,
  randomValue,
  validMessage,
  type Json,
  type Rng,
} from './fuzz-input.js';

export const FUZZ_KEY = 'fuzz-api-key-0123456789';

const STATUS_CODES: Record<number, string[]> = {
  400: ['invalid_request', 'invalid_json'],
  401: ['unauthorized', 'token_expired'],
  403: ['forbidden', 'blacklisted'],
  404: ['not_found'],
  413: ['too_large'],
  422: ['content_rejected'],
  429: ['rate_limited'],
};
const FRAME_TYPES = new Set(['welcome', 'message', 'sent', 'sync', 'read', 'pong', 'error']);
const CLOSE_CODES = new Set([1000, 1005, 1007, 1009, 4008, 4009]);

/** What was accepted where, what the fuzzer may have touched, and what went wrong. */
export class Ledger {
  readonly accepted = new Map<string, Set<string>>();
  readonly touched = new Set<string>();
  readonly problems: string[] = [];
  /** How often each HTTP status and close code was seen: shows what the run exercised. */
  readonly seen = new Map<string, number>();
  count(what: string): void {
    this.seen.set(what, (this.seen.get(what) ?? 0) + 1);
  }
  accept(conversation: unknown, id: unknown): void {
    if (typeof conversation !== 'string' || typeof id !== 'string')
      return this.problem(`bad accept ${String(id)}`);
    let ids = this.accepted.get(conversation);
    if (!ids) this.accepted.set(conversation, (ids = new Set()));
    ids.add(id);
    this.touched.add(conversation);
  }
  touch(from: unknown, target: Json | undefined, conversation?: Json): void {
    if (
      typeof from === 'string' &&
      typeof target === 'string' &&
      UID_PATTERN.test(from) &&
      UID_PATTERN.test(target)
    ) {
      this.touched.add(directConversationId(from, target));
    }
    if (typeof conversation === 'string') this.touched.add(conversation);
  }
  problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
  }
}

export const isObj = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function checkErrorBody(body: unknown, status: number): string | null {
  if (!isObj(body) || Object.keys(body).join() !== 'error' || !isObj(body.error)) return 'no error body';
  const { code, message, field, ...rest } = body.error;
  if (
    typeof message !== 'string' ||
    (field !== undefined && typeof field !== 'string') ||
    Object.keys(rest).length
  ) {
    return 'malformed error body';
  }
  return STATUS_CODES[status]?.includes(String(code)) ? null : `code ${String(code)} with status ${status}`;
}

export interface Fuzz {
  courier: TestCourier;
  ledger: Ledger;
  users: string[];
  tokens: Map<string, string>;
}

/** One random request, mutated from a valid shape most of the time. */
function request(f: Fuzz, rng: Rng): { method: string; path: string; value: Json | undefined } {
  const { users } = f;
  const from = rng.pick(users);
  const to = rng.pick(users.filter((u) => u !== from));
  const send = () => ({ from, to, ...validMessage(rng, to), clientMsgId: `c${rng.int(1e9)}` }) as Json;
  const conv = rng.chance(0.7) ? directConversationId(from, to) : randomString(rng);
  const maybe = (v: Json) => (rng.chance(0.85) ? mutate(rng, v) : v);
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return { method: 'POST', path: '/v1/messages', value: maybe(send()) };
    case 4:
      return { method: 'POST', path: '/v1/messages/batch', value: maybe({ messages: [send(), send()] }) };
    case 5:
      return {
        method: 'POST',
        path: `/v1/conversations/${enc(conv)}/read`,
        value: maybe({ seq: rng.int(9), uid: from }),
      };
    case 6: {
      const q = `after=${enc(String(randomValue(rng)))}&limit=${enc(String(randomValue(rng)))}`;
      const path = rng.chance(0.1)
        ? '/v1/conversations/%E0%A4%A/messages'
        : `/v1/conversations/${enc(conv)}/messages?${q}`;
      return { method: 'GET', path, value: undefined };
    }
    case 7:
      return {
        method: 'POST',
        path: '/v1/tokens',
        value: maybe({ uid: from, role: 'customer', platform: 'web' }),
      };
    case 8: {
      const subject = rng.chance(0.5)
        ? `uids/fzban-${rng.int(5)}`
        : `ips/${rng.pick(['192.0.2.1', '2001:db8::9', '999.1.1.1', 'x', '%20'])}`;
      return {
        method: rng.pick(['PUT', 'DELETE']),
        path: `/v1/blacklist/${subject}`,
        value: maybe({ ttlSeconds: 60, reason: 'fuzz' }),
      };
    }
    default:
      return {
        method: rng.pick(['POST', 'PUT', 'PATCH']),
        path: rng.pick(['/v1/messages', '/v1/nope', '/', '/v1/blacklist']),
        value: randomValue(rng),
      };
  }
}

export async function fuzzHttp(f: Fuzz, rng: Rng, count: number): Promise<void> {
  const { ledger } = f;
  const r = request(f, rng);
  const auth = rng.chance(0.75)
    ? FUZZ_KEY
    : rng.chance(0.5)
      ? f.tokens.get(rng.pick(f.users))
      : rng.chance(0.5)
        ? 'x.y.z'
        : undefined;
  const body = r.value === undefined ? undefined : damage(rng, JSON.stringify(r.value) ?? 'null', true);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth) headers.authorization = `Bearer ${auth}`;
  const sender = auth && auth !== FUZZ_KEY ? [...f.tokens].find(([, t]) => t === auth)?.[0] : undefined;
  const items = isObj(r.value) && Array.isArray(r.value.messages) ? r.value.messages : [r.value];
  for (const m of items) if (isObj(m)) ledger.touch(sender ?? m.from, m.to, m.conversation);
  const res = await fetch(f.courier.baseUrl + r.path, {
    method: r.method,
    headers,
    body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body),
  });
  const text = await res.text();
  const what = `#${count} ${r.method} ${r.path.slice(0, 120)} ${String(body).slice(0, 120)} → ${res.status} ${text.slice(0, 200)}`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return ledger.problem(`not JSON: ${what}`);
  }
  ledger.count(`HTTP ${res.status}`);
  if (res.status !== 200) {
    const wrong = checkErrorBody(json, res.status);
    if (wrong) ledger.problem(`${wrong}: ${what}`);
    return;
  }
  if (r.path === '/v1/messages' && r.method === 'POST' && isObj(json))
    ledger.accept(json.conversation, json.id);
  if (r.path === '/v1/messages/batch' && isObj(json) && Array.isArray(json.results)) {
    for (const result of json.results)
      if (isObj(result) && !result.error) ledger.accept(result.conversation, result.id);
  }
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) goes out as its raw UTF-8 bytes. */
function enc(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

function parses(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A session on one socket: a few mutated frames, a ping to flush parser answers, then a normal or forced close. */
export async function fuzzWsSession(
  f: Fuzz,
  rng: Rng,
  uid: string,
  frames: number,
): Promise<{ unknown: string[] }> {
  const { ledger, users } = f;
  const ws = new WebSocket(`${f.courier.wsUrl}?token=${f.tokens.get(uid) ?? ''}`);
  // Sends by clientMsgId: the mutator reuses ids, so one id may carry several frames (a valid send and then a
  // refused one, say), each answered once. An id is settled once a `sent` names it or every frame got its answer.
  const sends = new Map<string, { texts: string[]; answered: number; sent: boolean }>();
  const outstanding = () => [...sends.values()].filter((s) => !s.sent && s.answered < s.texts.length);
  const seen: Record<string, number> = {};
  let wake = () => {};
  ws.on('message', (data, isBinary) => {
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      frame = undefined;
    }
    if (isBinary || !isObj(frame) || !FRAME_TYPES.has(String(frame.type)))
      return ledger.problem(`frame ${String(data).slice(0, 200)}`);
    seen[String(frame.type)] = (seen[String(frame.type)] ?? 0) + 1;
    if (frame.type === 'sent' && isObj(frame.message))
      ledger.accept(frame.message.conversation, frame.message.id);
    if (frame.type === 'error' && (typeof frame.code !== 'string' || typeof frame.message !== 'string'))
      ledger.problem(`error frame ${String(data)}`);
    const id = frame.clientMsgId ?? frame.ref;
    const send = typeof id === 'string' ? sends.get(id) : undefined;
    if (send && (frame.type === 'sent' || frame.type === 'error')) {
      send.answered++;
      if (frame.type === 'sent') send.sent = true;
    }
    wake();
  });
  const closed = new Promise<number>((resolve) =>
    ws.once('close', (code) => {
      resolve(code);
      wake();
    }),
  );
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused ${res.statusCode}`)));
  });
  const until = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  let pings = 0; // valid pings among the fuzz frames, each answered with a pong
  for (let i = 0; i < frames && ws.readyState === WebSocket.OPEN; i++) {
    const to = rng.pick(users);
    const base = rng.pick<Json>([
      { type: 'send', clientMsgId: `w${rng.int(1e9)}`, message: { to, ...validMessage(rng, to) } },
      { type: 'send', clientMsgId: `w${rng.int(1e9)}`, message: { to, ...validMessage(rng, to) } },
      { type: 'sync', conversation: directConversationId(uid, to), after: rng.int(3), limit: 10 },
      { type: 'read', conversation: directConversationId(uid, to), seq: rng.int(3) },
      { type: 'ack', ids: [`m${rng.int(9)}`] },
      { type: 'ping' },
    ]);
    const value = rng.chance(0.8) ? mutate(rng, base) : base;
    const text = String(damage(rng, JSON.stringify(value) ?? 'null', false));
    if (isObj(value) && value.type === 'send' && isObj(value.message)) {
      ledger.touch(uid, value.message.to, value.message.conversation);
    }
    // Answers name the clientMsgId only once the frame parsed that far: track the sends that will.
    const parsed = jsonProblem(Buffer.from(text)) === null ? parses(text) : undefined;
    if (isObj(parsed) && parsed.type === 'send' && typeof parsed.clientMsgId === 'string') {
      if (parsed.clientMsgId.length >= 1 && parsed.clientMsgId.length <= 128) {
        const send = sends.get(parsed.clientMsgId);
        if (send) send.texts.push(text);
        else sends.set(parsed.clientMsgId, { texts: [text], answered: 0, sent: false });
      }
    }
    if (JSON.stringify(parsed) === '{"type":"ping"}') pings++;
    ws.send(text);
  }
  if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
  // Frames are answered in order, so the pong to the last ping means every parser refusal has arrived.
  await until(() => (seen.pong ?? 0) > pings, 5_000);
  await until(() => outstanding().length === 0, 3_000);
  if (ws.readyState === WebSocket.OPEN) {
    const kill = rng.int(8);
    if (kill === 0) ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    else if (kill === 1) ws.send('x'.repeat(70_000));
    else if (kill === 2) ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    else ws.close(1000);
  }
  const code = await closed;
  ledger.count(`close ${code}`);
  if (!CLOSE_CODES.has(code)) ledger.problem(`close code ${code}`);
  // Unsettled ids are replayed whole: the valid frame among them answers with what was stored (idempotent).
  return { unknown: outstanding().flatMap((s) => s.texts) };
}

/** An upgrade with a damaged token, path or channel: refused before the upgrade with a documented answer. */
export async function fuzzUpgrade(f: Fuzz, rng: Rng): Promise<void> {
  const base = new URL(f.courier.wsUrl);
  const token = f.tokens.get(rng.pick(f.users)) ?? '';
  const query = rng.pick([
    `token=${token.slice(0, -3)}abc`,
    'token=',
    `token=${enc(randomString(rng))}`,
    `token=${token}&channel=${'c'.repeat(65)}`,
    `token=${enc(token.split('.').reverse().join('.'))}`,
  ]);
  const path = rng.chance(0.2) ? '/not-ws' : base.pathname;
  const ws = new WebSocket(`ws://${base.host}${path}?${query}`);
  ws.on('error', () => undefined); // the aborted request after 'unexpected-response'
  const answer = await new Promise<{ status: number; body: string }>((resolve) => {
    ws.once('open', () => resolve({ status: 101, body: '' }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  ws.terminate();
  f.ledger.count(`upgrade ${answer.status}`);
  const what = `upgrade ${path}?${query.slice(0, 80)} → ${answer.status} ${answer.body.slice(0, 200)}`;
  // 413: a random token can make the request line longer than Node's 16 KiB header limit.
  if (![400, 401, 404, 413].includes(answer.status)) return f.ledger.problem(what);
  const wrong = checkErrorBody(parses(answer.body), answer.status);
  if (wrong) f.ledger.problem(`${wrong}: ${what}`);
}

/** A `send` whose answer the socket never saw: sent again as is; the same clientMsgId gets the first result. */
export async function replay(f: Fuzz, uid: string, text: string): Promise<void> {
  const ws = new WebSocket(`${f.courier.wsUrl}?token=${f.tokens.get(uid) ?? ''}`);
  const answer = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Record<string, Json>;
      if (frame.type === 'welcome') return ws.send(text);
      if (frame.type === 'sent' && isObj(frame.message))
        f.ledger.accept(frame.message.conversation, frame.message.id);
      if (frame.type === 'sent' || frame.type === 'error') resolve();
    });
    ws.once('close', () => resolve());
  });
  await answer;
  ws.terminate();
}
