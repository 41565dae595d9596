// worker.maxConnections on a running all-in-one: a full worker refuses the upgrade with 503 and a JSON error
// before any token check (instead of running out of files and resetting connections), counts the refusal,
// publishes its cap so /v1/gateway stops handing it out, and takes clients again once a place is free.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestClient, TestCourier } from '../support/courier.js';
import { scrape, valueOf } from '../support/prometheus.js';
import { uniqueId, waitFor } from '../support/servers.js';
import { upgradeAttempt } from '../support/upgrade.js';

type Refusal = { status: number; contentType: string; error: { code: string; message: string } };

/** One upgrade attempt that must be refused: its HTTP status and JSON error body. */
async function refusal(url: string, token: string): Promise<Refusal> {
  const k = await upgradeAttempt(url, token);
  if ('ws' in k) {
    k.ws.terminate();
    throw new Error('the upgrade was accepted');
  }
  return { status: k.status, contentType: k.headers['content-type'] ?? '', error: k.error };
}

describe('worker.maxConnections', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start({ worker: { maxConnections: 2 } });
  });
  after(() => courier.stop());

  const gatewayStatus = async () => (await courier.http('GET', '/v1/gateway')).status;
  const refusedFull = async () =>
    valueOf(await scrape(`http://${new URL(courier.wsUrl).host}`), 'courier_ws_connects_total', {
      outcome: 'unavailable',
    });

  it('publishes its cap in discovery', () => {
    assert.equal(courier.app.worker.node.maxConns, 2);
  });

  it('refuses the third client with 503 before the upgrade, and takes one again when a place frees', async () => {
    const first = await courier.connect(uniqueId('cap'));
    const second = await courier.connect(uniqueId('cap'));
    const refusedBefore = await refusedFull();

    const third = await refusal(courier.wsUrl, await courier.token(uniqueId('cap')));
    assert.equal(third.status, 503);
    assert.match(third.contentType, /^application\/json/);
    assert.equal(third.error.code, 'unavailable');
    assert.match(third.error.message, /worker is full \(2 connections\)/);
    // Refused before the token is read: even a forged one gets the 503, not a 401.
    assert.equal((await refusal(courier.wsUrl, 'forged')).status, 503);
    assert.equal(await refusedFull(), refusedBefore + 2, 'counted as refused: unavailable');
    assert.equal(courier.app.worker.gateway.connectionCount(), 2);

    // The worker publishes its count every 2 s; the gateway counts what it handed out meanwhile.
    await waitFor('/v1/gateway to skip the full worker', async () => (await gatewayStatus()) === 503, 10_000);
    const full = await courier.http<{ error: { code: string } }>('GET', '/v1/gateway');
    assert.equal(full.json.error.code, 'unavailable');

    await first.close();
    await waitFor('the worker to let go of the socket', () => {
      return courier.app.worker.gateway.connectionCount() === 1;
    });
    const again = await TestClient.open(courier.wsUrl, await courier.token(uniqueId('cap')));
    assert.equal(again.welcome.worker, courier.app.worker.id);
    assert.equal(courier.app.worker.gateway.connectionCount(), 2);
    again.ws.terminate();
    second.ws.terminate();
  });

  it('hands the worker out again once its published count leaves room', async () => {
    await waitFor(
      'the worker to hold no connection',
      () => courier.app.worker.gateway.connectionCount() === 0,
    );
    await waitFor('/v1/gateway to answer again', async () => (await gatewayStatus()) === 200, 10_000);
    const res = await courier.http<{ url: string }>('GET', '/v1/gateway');
    assert.equal(res.json.url, courier.wsUrl);
  });
});
