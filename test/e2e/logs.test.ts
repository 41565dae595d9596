// Logs (issue 8): JSON lines from pino, each component's bound to its node id and role; one message followed
// by its request id through business, dispatcher and worker; daily files when log.file is set; pretty lines
// on a terminal in development.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino, symbols, type Logger } from 'pino';
import { componentLogger, createLogger, transportOf } from '../../internal/log/logger.js';
import { API_KEY, TestCourier, type TestClient } from '../support/courier.js';
import { tempDir, waitFor } from '../support/servers.js';

type Line = Record<string, unknown> & { msg?: string; requestId?: string; role?: string; node?: string };

/** A pino logger at debug level whose lines land in `lines`, parsed. */
function capture(): { logger: Logger; lines: Line[]; raw: string[] } {
  const lines: Line[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of String(chunk).split('\n')) {
        if (!text) continue;
        raw.push(text);
        lines.push(JSON.parse(text) as Line);
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines, raw };
}

async function send(courier: TestCourier, path: string, body: unknown, requestId: string) {
  const res = await fetch(courier.baseUrl + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${API_KEY}`,
      'x-request-id': requestId,
    },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-request-id'), requestId);
  return res.json() as Promise<Record<string, unknown>>;
}

describe('request ids through the three roles', () => {
  let courier: TestCourier;
  let lines: Line[];
  let client: TestClient;

  before(async () => {
    const captured = capture();
    lines = captured.lines;
    courier = await TestCourier.start({}, captured.logger);
    client = await courier.connect('erin');
  });
  after(() => courier?.stop());

  it('appear in business, dispatcher and worker lines for one message', async () => {
    const requestId = 'req-follow-0001';
    const sent = await send(
      courier,
      '/v1/messages',
      { from: 'frank', to: 'erin', type: 'text', content: 'hi' },
      requestId,
    );
    const frame = await client.next('message');
    assert.equal(frame.message.id, sent.id);
    // Business answers after the dispatcher did, and the worker logs before it writes the frame.
    const mine = lines.filter((l) => l.requestId === requestId);
    const byRole = (role: string) => mine.filter((l) => l.role === role).map((l) => l.msg);
    assert.ok(byRole('business').includes('message stored'), JSON.stringify(mine));
    assert.ok(byRole('dispatcher').includes('dispatched'), JSON.stringify(mine));
    assert.ok(byRole('worker').includes('pushed to connections'), JSON.stringify(mine));
    for (const line of mine) {
      assert.equal(line.level, 20, 'per-message lines are debug');
      assert.equal(typeof line.node, 'string');
      assert.ok(line.id === sent.id || line.id === undefined, JSON.stringify(line));
    }
  });

  it('log a batch at info and carry its request id to every message of it', async () => {
    const requestId = 'req-batch-0001';
    const messages = [1, 2].map((n) => ({ from: 'frank', to: 'erin', type: 'text', content: `m${n}` }));
    await send(courier, '/v1/messages/batch', { messages }, requestId);
    await client.next('message');
    await client.next('message');
    const batch = lines.find((l) => l.requestId === requestId && l.msg === 'message batch received');
    assert.equal(batch?.level, 30);
    assert.equal(batch?.messages, 2);
    const pushed = lines.filter((l) => l.requestId === requestId && l.msg === 'pushed to connections');
    assert.equal(pushed.length, 2);
  });

  it('bind every role component line to a node id and a role', () => {
    const roleLines = lines.filter((l) => ['business', 'dispatcher', 'worker'].includes(String(l.component)));
    assert.ok(roleLines.length > 0);
    for (const line of roleLines) {
      assert.equal(line.role, line.component, JSON.stringify(line));
      assert.match(String(line.node), /^(business|dispatcher|worker)-/);
    }
  });
});

describe('log destinations', () => {
  it('writes JSON lines into a daily file when log.file is set', async () => {
    const dir = tempDir('logs');
    try {
      const logger = createLogger(
        { level: 'info', pretty: false, file: join(dir.path, 'courier.log'), keepDays: 3 },
        { role: 'business', node: 'business-1' },
      );
      logger.info({ requestId: 'req-file-1' }, 'into the file');
      logger.flush();
      const day = new Date();
      const stamp = [day.getFullYear(), day.getMonth() + 1, day.getDate()]
        .map((n) => String(n).padStart(2, '0'))
        .join('-');
      const file = join(dir.path, `courier.${stamp}.1.log`);
      await waitFor('the log line in the rotated file', () => {
        try {
          return readFileSync(file, 'utf8').includes('into the file');
        } catch {
          return false; // not created yet by the transport's thread
        }
      });
      const line = JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[0] as string) as Line;
      assert.equal(line.requestId, 'req-file-1');
      assert.equal(line.role, 'business');
      assert.deepEqual(readdirSync(dir.path), [`courier.${stamp}.1.log`]);
      const stream = (
        logger as unknown as Record<symbol, { end(): void; once(e: string, f: () => void): void }>
      )[symbols.streamSym];
      await new Promise<void>((resolve) => {
        // The transport's thread has written everything once its stream finishes ending.
        stream?.once('finish', resolve);
        stream?.end();
      });
    } finally {
      dir.remove();
    }
  });

  it('picks pretty lines on a terminal in development, JSON otherwise, and pino-roll for files', () => {
    const auto = { level: 'info', pretty: 'auto' as const };
    assert.equal(transportOf(auto, true, undefined)?.target, 'pino-pretty');
    assert.equal(transportOf(auto, true, 'production'), undefined);
    assert.equal(transportOf(auto, false, 'development'), undefined);
    assert.equal(transportOf({ level: 'info', pretty: true }, false, 'production')?.target, 'pino-pretty');
    const file = transportOf({ ...auto, file: '/var/log/courier/courier.log', keepDays: 7 }, true, undefined);
    assert.equal(file?.target, 'pino-roll');
    assert.deepEqual((file?.options as { limit: unknown; frequency: string }).limit, {
      count: 7,
      removeOtherLogFiles: true,
    });
    assert.equal((file?.options as { frequency: string }).frequency, 'daily');
  });

  it('binds node and role once, however many loggers bind them', () => {
    const captured = capture();
    const root = captured.logger.child({ role: 'worker', node: 'worker-a' });
    componentLogger(root, 'worker', { id: 'worker-a', role: 'worker' }).info('once');
    componentLogger(captured.logger, 'dispatcher', { id: 'd-1', role: 'dispatcher' }).info('bound here');
    assert.deepEqual(
      captured.lines.map((l) => [l.component, l.role, l.node]),
      [
        ['worker', 'worker', 'worker-a'],
        ['dispatcher', 'dispatcher', 'd-1'],
      ],
    );
    // JSON.parse keeps the last of duplicate keys, so count them in the text pino wrote.
    for (const text of captured.raw) {
      assert.equal(text.match(/"role":/g)?.length, 1, text);
      assert.equal(text.match(/"node":/g)?.length, 1, text);
    }
  });
});
