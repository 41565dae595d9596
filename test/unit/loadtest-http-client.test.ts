// The load generators' HTTP client against a slow real server: requests beyond the pool's sockets wait, and
// the client reports how many waited at once, which `push` turns into a warning.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { HttpClient } from '../../scripts/loadtest/http-client.js';

describe('loadtest HttpClient', () => {
  let open = 0;
  let peakOpen = 0;
  const server = createServer((req, res) => {
    peakOpen = Math.max(peakOpen, ++open);
    req.resume();
    setTimeout(() => {
      open--;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }, 100);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('counts the requests that waited at once for one of its sockets', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new HttpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      maxSockets: 2,
      timeoutMs: 5_000,
    });
    try {
      assert.equal((await client.send('POST', '/x', {}, 'k')).status, 200);
      assert.equal(client.peakWaiting, 0, 'one request at a time never waits');
      const answers = await Promise.all(Array.from({ length: 5 }, () => client.send('POST', '/x', {}, 'k')));
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200, 200, 200],
      );
      assert.equal(peakOpen, 2, 'the server saw at most the pool’s 2 requests at once');
      assert.equal(client.peakWaiting, 3);
    } finally {
      client.close();
    }
  });
});
