// The load generators' lean HTTP client: the answer parser on bytes cut at every possible place, and the
// keep-alive pool against a real node:http server (reuse, Connection: close, timeouts, resets, refusals).
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpPool, ResponseParser, type HttpAnswer } from '../../scripts/loadtest/http-pool.js';

/** Feeds `wire` to a fresh parser cut at `cut`, and returns the answers it gave (and the parser). */
function parse(wire: string, cut: number): { answers: HttpAnswer[]; parser: ResponseParser } {
  const parser = new ResponseParser();
  const bytes = Buffer.from(wire);
  const answers: HttpAnswer[] = [];
  for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
    if (part.length === 0) continue;
    const a = parser.push(part);
    if (a) answers.push(a);
  }
  return { answers, parser };
}

function everyCut(wire: string, check: (answers: HttpAnswer[], parser: ResponseParser) => void): void {
  for (let cut = 0; cut <= Buffer.byteLength(wire); cut++) {
    const { answers, parser } = parse(wire, cut);
    check(answers, parser);
  }
}

describe('loadtest ResponseParser', () => {
  it('reads a Content-Length answer however its bytes are split', () => {
    const body = '{"id":"01HZX","text":"héllo"}';
    const wire = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    everyCut(wire, (answers, parser) => {
      assert.deepEqual(answers, [{ status: 200, body }]);
      assert.equal(parser.closeAfter, false);
    });
  });

  it('decodes a chunked answer with extensions and trailers however its bytes are split', () => {
    const wire =
      'HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
      '6;ext=1\r\n{"a":1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n';
    everyCut(wire, (answers, parser) => {
      assert.deepEqual(answers, [{ status: 400, body: '{"a":1}' }]);
      assert.equal(parser.closeAfter, true, 'Connection: close is kept');
    });
  });

  it('ends an answer without a length at the close, and none that has one', () => {
    const open = new ResponseParser();
    assert.equal(open.push(Buffer.from('HTTP/1.0 200 OK\r\n\r\npart one, ')), undefined);
    assert.equal(open.push(Buffer.from('part two')), undefined);
    assert.deepEqual(open.end(), { status: 200, body: 'part one, part two' });
    assert.equal(open.closeAfter, true);

    const short = new ResponseParser();
    short.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    assert.throws(() => short.end(), /closed mid-answer/);
    assert.equal(new ResponseParser().end(), undefined, 'a close between answers is no answer');
  });

  it('gives 204 and 304 no body, and reads one answer after another', () => {
    const parser = new ResponseParser();
    assert.deepEqual(parser.push(Buffer.from('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n')), {
      status: 204,
      body: '',
    });
    assert.deepEqual(parser.push(Buffer.from('HTTP/1.1 503 Unavailable\r\nContent-Length: 2\r\n\r\nno')), {
      status: 503,
      body: 'no',
    });
  });

  it('refuses bytes that are not an answer', () => {
    for (const [wire, error] of [
      ['SSH-2.0-OpenSSH\r\n\r\n', /not an HTTP answer/],
      ['HTTP/1.1 999 Nine\r\n\r\n', /not an HTTP answer/],
      ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /bad content-length/],
      ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc', /bytes after the answer/],
      ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/],
    ] as const) {
      assert.throws(() => new ResponseParser().push(Buffer.from(wire)), error, wire);
    }
    assert.throws(() => new ResponseParser().push(Buffer.alloc(70 * 1024, 'a')), /head too long/);
  });
});

describe('loadtest HttpPool', () => {
  const sockets = new Set<Socket>();
  let connections = 0;
  let port = 0;
  const server = createServer((req, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/slow') return setTimeout(() => res.end('late'), 2_000);
      if (req.url === '/reset') return req.socket.destroy();
      if (req.url === '/close') res.setHeader('connection', 'close');
      if (req.url === '/chunked') {
        res.write('chunk one, ');
        return setTimeout(() => res.end('chunk two'), 10);
      }
      res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization }));
    });
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const post = (path: string, body = '') =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it('sends requests one after another over one kept-alive socket', async () => {
    const pool = new HttpPool('127.0.0.1', port, 4);
    const before = connections;
    try {
      for (let i = 0; i < 20; i++) {
        const answer = await pool.send(post('/echo', `{"i":${i}}`), 5_000);
        assert.equal(answer.status, 200);
        assert.deepEqual(JSON.parse(answer.body), {
          method: 'POST',
          url: '/echo',
          body: `{"i":${i}}`,
          auth: 'Bearer k',
        });
      }
      assert.equal(connections - before, 1);
      assert.equal(pool.sockets, 1);
      assert.deepEqual(await pool.send(post('/chunked'), 5_000), {
        status: 200,
        body: 'chunk one, chunk two',
      });
    } finally {
      pool.close();
    }
  });

  it('opens a new socket after an answer that closes its connection', async () => {
    const pool = new HttpPool('127.0.0.1', port, 1);
    const before = connections;
    try {
      assert.equal((await pool.send(post('/close'), 5_000)).status, 200);
      assert.equal((await pool.send(post('/echo'), 5_000)).status, 200);
      assert.equal(connections - before, 2);
    } finally {
      pool.close();
    }
  });

  it('does not reuse a socket idle for longer than it may be kept', async () => {
    const pool = new HttpPool('127.0.0.1', port, 1, 50);
    const before = connections;
    try {
      await pool.send(post('/echo'), 5_000);
      await new Promise((r) => setTimeout(r, 120));
      await pool.send(post('/echo'), 5_000);
      assert.equal(connections - before, 2);
    } finally {
      pool.close();
    }
  });

  it('fails a request the server does not answer in time, and one it resets, and goes on', async () => {
    const pool = new HttpPool('127.0.0.1', port, 1);
    try {
      await assert.rejects(pool.send(post('/slow'), 300), { code: 'TIMEOUT' });
      await assert.rejects(pool.send(post('/reset'), 5_000), { code: 'ECONNRESET' });
      assert.equal((await pool.send(post('/echo'), 5_000)).status, 200, 'the next request gets a new socket');
      const reset = pool.send(post('/reset'), 5_000);
      const queued = pool.send(post('/echo'), 1_000);
      await assert.rejects(reset, { code: 'ECONNRESET' });
      assert.equal((await queued).status, 200, 'a request waiting for the reset socket gets a new one');
    } finally {
      pool.close();
    }
  });

  it('times out a waiting request behind one that may wait longer', async () => {
    const pool = new HttpPool('127.0.0.1', port, 1);
    try {
      const slow = pool.send(post('/slow'), 5_000);
      const patient = pool.send(post('/echo'), 5_000);
      const hasty = pool.send(post('/echo'), 300);
      const started = Date.now();
      await assert.rejects(hasty, { code: 'TIMEOUT' });
      assert.ok(Date.now() - started < 1_500, 'not held until the request ahead of it left the queue');
      assert.equal(pool.queued, 1, 'the patient request still waits');
      assert.equal((await slow).status, 200);
      assert.equal((await patient).status, 200);
    } finally {
      pool.close();
    }
  });

  it('keeps requests beyond its sockets waiting, and serves them in turn', async () => {
    const pool = new HttpPool('127.0.0.1', port, 2);
    try {
      const answers = Promise.all(
        Array.from({ length: 7 }, (_, i) => pool.send(post(`/echo`, `${i}`), 5_000)),
      );
      assert.equal(pool.sockets, 2);
      assert.equal(pool.queued, 5);
      assert.deepEqual(
        (await answers).map((a) => (JSON.parse(a.body) as { body: string }).body),
        ['0', '1', '2', '3', '4', '5', '6'],
      );
      assert.equal(pool.queued, 0);
    } finally {
      pool.close();
    }
  });

  it('names a refused connection, and refuses requests once closed', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const pool = new HttpPool('127.0.0.1', deadPort, 1);
    await assert.rejects(pool.send(post('/echo'), 5_000), { code: 'ECONNREFUSED' });
    const waiting = pool.send(post('/echo'), 5_000);
    pool.close();
    await assert.rejects(waiting, { code: 'CLOSED' });
    await assert.rejects(pool.send(post('/echo'), 5_000), { code: 'CLOSED' });
    assert.throws(() => new HttpPool('127.0.0.1', 1, 0), /maxSockets/);
  });
});
