// Clients of a LocalCluster as an app and a legacy system would be: tokens and messages over a business node's
// HTTP API, WebSockets straight to a worker or through `GET /v1/gateway`.
import assert from 'node:assert/strict';
import type { ClusterNode, LocalCluster } from '../support/cluster.js';
import { TestClient } from '../support/courier.js';
import { uniqueId, waitFor } from '../support/servers.js';

export interface SendResult {
  id: string;
  conversation: string;
  seq: number;
  delivered: number;
}

/** Cluster settings for tests: short leases and timers so that recovery happens within seconds. */
export const FAST = {
  leaseTtlSeconds: 3, // a SIGKILLed node vanishes from etcd within 3 s
  env: {
    COURIER_WORKER_TICK_MS: '20',
    COURIER_SHUTDOWN_GRACE_SECONDS: '1',
    COURIER_BUSINESS_OPEN_MESSAGING: 'true', // any user may write to any other: these tests are about routing
  },
};

/** FAST, with one business node that runs its own dispatcher (business.embedDispatcher) and no other. */
export const FAST_EMBEDDED = { ...FAST, business: 1, dispatchers: 0, embedDispatchers: true };

export class Clients {
  private readonly open = new Set<TestClient>();

  constructor(private readonly cluster: LocalCluster) {}

  /** The n-th business node (their order of start). */
  business(n = 0): ClusterNode {
    return this.cluster.nodesOf('business')[n] ?? assert.fail(`no business node #${n}`);
  }

  async token(uid: string, platform = 'web'): Promise<string> {
    const res = await this.cluster.http<{ token: string }>(this.business().url, 'POST', '/v1/tokens', {
      uid,
      role: 'customer',
      platform,
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    return res.json.token;
  }

  /** Connects `uid` to this worker, or to the one `GET /v1/gateway` of a business node picks. */
  async connect(uid: string, worker?: ClusterNode, platform = 'web'): Promise<TestClient> {
    let url = worker?.url;
    if (!url) {
      const res = await this.cluster.http<{ url: string }>(this.business().url, 'GET', '/v1/gateway');
      assert.equal(res.status, 200, JSON.stringify(res.json));
      url = res.json.url;
    }
    const client = await TestClient.open(url, await this.token(uid, platform));
    this.open.add(client);
    return client;
  }

  /**
   * Sends over HTTP through `via`. A 503 is answered again with the same clientMsgId, as DESIGN §3 allows a
   * caller to (no second message is stored), for at most `retryMs`; anything else must be a 200.
   */
  async send(via: ClusterNode, from: string, to: string, content: string, retryMs = 0): Promise<SendResult> {
    const body = { from, to, type: 'text', content, clientMsgId: uniqueId('c') };
    const post = () => this.cluster.http<SendResult>(via.url, 'POST', '/v1/messages', body);
    let res = await post();
    if (res.status === 503 && retryMs > 0) {
      await waitFor(
        `${via.id} to take the message`,
        async () => (res = await post()).status !== 503,
        retryMs,
        100,
      );
    }
    assert.equal(res.status, 200, `send through ${via.id}: ${JSON.stringify(res.json)}`);
    return res.json;
  }

  /** Waits for the pushed `message` frame with this id. */
  async receives(client: TestClient, id: string, ms = 5_000): Promise<void> {
    await client.wait((f) => f.type === 'message' && f.message.id === id, ms);
  }

  closeAll(): void {
    for (const client of this.open) client.ws.terminate();
    this.open.clear();
  }
}
