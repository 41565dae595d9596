// Each role as its own process (`node dist/cmd/<role>/main.js --config …`): what starts on the embedded
// defaults, and the clear refusal where a backend cannot be shared between processes.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, spawnServer, tempDir, waitFor } from '../support/servers.js';

const KEY = 'process-test-key-0001';
const secrets = {
  COURIER_AUTH_INTERNAL_KEY: 'internal-key-0123456789',
  COURIER_AUTH_JWT_SECRET: 'process-test-secret-process-test-secret',
  COURIER_LOG_LEVEL: 'warn',
};

function run(role: string, env: Record<string, string>) {
  return spawnServer(process.execPath, [`dist/cmd/${role}/main.js`, '--config', `configs/${role}.yaml`], {
    env: { ...process.env, ...secrets, ...env },
  });
}

describe('roles as separate processes', () => {
  for (const role of ['worker', 'dispatcher']) {
    it(`${role} refuses the memory registry, naming the key`, async () => {
      const proc = run(role, { COURIER_REGISTRY_DRIVER: 'memory', COURIER_DISCOVERY_DRIVER: 'static' });
      const code = await proc.exited;
      assert.equal(code, 2, proc.output());
      assert.match(proc.output(), /registry\.driver: "memory" cannot be shared between processes/);
    });
  }

  it('stops with the key named when a value is wrong', async () => {
    const proc = run('worker', { COURIER_WORKER_ACK_RETRIES: 'lots' });
    assert.equal(await proc.exited, 2);
    assert.match(proc.output(), /worker\.ackRetries/);
  });

  it('stops when separate roles have no shared internal key', async () => {
    const proc = run('dispatcher', {
      COURIER_AUTH_INTERNAL_KEY: '',
      COURIER_REGISTRY_DRIVER: 'memory',
      COURIER_DISCOVERY_DRIVER: 'static',
    });
    assert.equal(await proc.exited, 2);
    assert.match(proc.output(), /registry\.driver|auth\.internalKey/);
  });

  it('business starts alone on SQLite with a static dispatcher list and stores messages durably', async () => {
    const dir = tempDir('proc');
    const port = await freePort();
    const proc = run('business', {
      COURIER_AUTH_API_KEYS: `[${KEY}]`,
      COURIER_REGISTRY_DRIVER: 'memory',
      COURIER_SEQUENCER_DRIVER: 'memory',
      COURIER_DISCOVERY_DRIVER: 'static',
      // Nothing listens on port 9: dispatch fails, and the message must still be stored and answered.
      COURIER_DISCOVERY_STATIC_DISPATCHERS: '[{id: d1, http: "http://127.0.0.1:9"}]',
      COURIER_STORE_DRIVER: 'sqlite',
      COURIER_STORE_SQLITE_PATH: join(dir.path, 'c.db'),
      COURIER_BUSINESS_HTTP_PORT: String(port),
      COURIER_BUSINESS_HTTP_HOST: '127.0.0.1',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('business /readyz', async () => (await fetch(`${base}/readyz`)).status === 200, 20_000);
      const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
      const res = await fetch(`${base}/v1/messages`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ from: 'p1', to: 'p2', type: 'text', content: 'stored' }),
      });
      const body = (await res.json()) as { seq: number; delivered: number; conversation: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.delivered, 0);
      const history = await fetch(
        `${base}/v1/conversations/${encodeURIComponent(body.conversation)}/messages`,
        { headers },
      );
      assert.deepEqual(
        ((await history.json()) as { messages: { content: string }[] }).messages.map((m) => m.content),
        ['stored'],
      );

      await proc.stop();
      assert.equal(proc.child.exitCode, 0, `SIGTERM ends the process cleanly\n${proc.output()}`);
    } finally {
      proc.kill();
      dir.remove();
    }
  });
});
