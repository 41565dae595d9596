// The HTTP client between courier nodes, against small real servers: answers and errors as the node pool
// reads them, the deadline, and a keep-alive socket that the server closed while the client reused it.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { InternalCallError, postJson } from '../../internal/http/internal-client.js';

const options = { key: 'k', timeoutMs: 2_000 };

async function listening<S extends Server | ReturnType<typeof createTcpServer>>(server: S): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('postJson', () => {
  const servers: Array<{ close(): unknown; closeAllConnections?(): void }> = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections?.();
      s.close();
    }
  });

  it('sends the body, key and request id, and parses the answer', async () => {
    const seen: unknown[] = [];
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push([
          req.headers.authorization,
          req.headers['x-request-id'],
          JSON.parse(Buffer.concat(chunks).toString()),
        ]);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":"é"}');
      });
    });
    servers.push(server);
    const url = await listening(server);
    const answer = await postJson<{ ok: string }>(
      `${url}/x`,
      { a: ['ü', 1] },
      { ...options, requestId: 'r1' },
    );
    assert.deepEqual(answer, { ok: 'é' });
    assert.deepEqual(seen, [['Bearer k', 'r1', { a: ['ü', 1] }]]);
  });

  it('turns an error answer into an InternalCallError with the remote error, retryable only for 5xx', async () => {
    let status = 400;
    const server = createHttpServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'invalid_request', message: 'bad uid', field: 'uid' } }));
    });
    servers.push(server);
    const url = await listening(server);
    const refused = await postJson(`${url}/x`, {}, options).catch((e: unknown) => e);
    assert.ok(refused instanceof InternalCallError);
    assert.equal(refused.status, 400);
    assert.equal(refused.retryable, false);
    assert.deepEqual(refused.toCourierError().field, 'uid');
    status = 503;
    const failed = await postJson(`${url}/x`, {}, options).catch((e: unknown) => e);
    assert.ok(failed instanceof InternalCallError);
    assert.equal(failed.retryable, true);
  });

  it('gives up at the deadline when the server never answers', async () => {
    const server = createHttpServer(() => undefined);
    servers.push(server);
    const url = await listening(server);
    const started = Date.now();
    const err = await postJson(`${url}/x`, {}, { ...options, timeoutMs: 200 }).catch((e: unknown) => e);
    assert.ok(err instanceof InternalCallError);
    assert.equal(err.status, 0, 'a network failure, which the node pool retries on another node');
    assert.ok(Date.now() - started < 1_500);
  });

  it('sends a call again on a fresh socket when the server closed the reused one', async () => {
    // A keep-alive server that answers the first request of each connection and resets the connection on
    // the second, as a server whose keep-alive timeout fires just as the client reuses the socket.
    let connections = 0;
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => {
      connections++;
      sockets.push(socket);
      let requests = 0;
      socket.on('data', (data) => {
        if (!data.toString().startsWith('POST')) return; // the body of an already-counted request
        if (++requests === 2) return socket.resetAndDestroy();
        socket.write(
          'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{"n":11}',
        );
      });
      socket.on('error', () => undefined);
    });
    servers.push({ close: () => (sockets.forEach((s) => s.destroy()), server.close()) });
    const url = await listening(server);
    assert.deepEqual(await postJson(`${url}/x`, { i: 1 }, options), { n: 11 });
    assert.deepEqual(await postJson(`${url}/x`, { i: 2 }, options), { n: 11 });
    assert.equal(connections, 2, 'the second call went out again on a new connection');
  });
});
