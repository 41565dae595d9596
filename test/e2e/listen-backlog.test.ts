// The accept queues of the listeners clients open connections to: a burst that arrives while the process is
// busy waits in the kernel's queue instead of losing its SYNs (resent only after 1 s, 3 s, 7 s). Node's
// default queue is 511; the process is stopped (SIGSTOP) so that nothing is accepted while the burst arrives.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, spawnServer, tempDir, waitFor } from '../support/servers.js';

const BURST = 800; // above Node's default of 511, below this host's net.core.somaxconn (4096)

/** How many of `count` connections to `port` finish their TCP handshake within `ms`. */
async function handshakes(
  port: number,
  count: number,
  ms: number,
): Promise<{ done: number; sockets: Socket[] }> {
  let done = 0;
  const sockets = Array.from({ length: count }, () => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => done++);
    socket.on('error', () => undefined); // reset when the test ends; only the handshakes count
    return socket;
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { done, sockets };
}

describe('listen backlog', () => {
  it('the worker WebSocket port and the business HTTP port queue a burst of 800 opens while busy', async () => {
    const dir = tempDir('backlog');
    const [http, ws, grpc, dispatcher] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const proc = spawnServer(
      process.execPath,
      ['dist/cmd/courier/main.js', '--config', 'configs/courier.yaml'],
      {
        env: {
          ...process.env,
          COURIER_LOG_LEVEL: 'warn',
          COURIER_STORE_SQLITE_PATH: join(dir.path, 'c.db'),
          COURIER_BUSINESS_HTTP_PORT: String(http),
          COURIER_WORKER_WS_PORT: String(ws),
          COURIER_WORKER_GRPC_PORT: String(grpc),
          COURIER_DISPATCHER_HTTP_PORT: String(dispatcher),
        },
      },
    );
    const sockets: Socket[] = [];
    try {
      await waitFor(
        'courier /readyz',
        async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).ok,
        30_000,
      );
      proc.kill('SIGSTOP');
      for (const [name, port] of [
        ['worker ws', ws],
        ['business http', http],
      ] as const) {
        const burst = await handshakes(port, BURST, 500);
        sockets.push(...burst.sockets);
        assert.equal(
          burst.done,
          BURST,
          `${name}: ${burst.done} of ${BURST} handshakes while the process was stopped`,
        );
      }
    } finally {
      proc.kill('SIGCONT');
      for (const socket of sockets) socket.destroy();
      await proc.stop();
      dir.remove();
    }
  });
});
