// The receiving and sending apps of the chaos and drain tests: real client SDK instances (reconnect through
// /v1/gateway, catch-up by seq, ACKs, dedupe by id, send retries with one clientMsgId) over the `ws`
// package, each watched at two levels: what the SDK hands the app (`emitted`) and what arrived on the wire
// (`arrivals`), so the test can count the duplicates the SDK suppressed.
import WebSocket from 'ws';
import {
  CourierClient,
  type ClientState,
  type FetchLike,
  type Message,
} from '../../internal/client/index.js';
import type { LocalCluster } from '../support/cluster.js';

/** A business node's base URL for the n-th call: the live ones in turn, so one stopped node is routed around. */
export type BusinessUrls = () => string[];

/**
 * fetch for the SDK that sends each call to the business node it was meant for and, on a network error,
 * to the others in turn: a device keeps working while the node its baseUrl names is down or replaced.
 */
export function failoverFetch(businessUrls: BusinessUrls): FetchLike {
  return async (url, init) => {
    const path = url.replace(/^https?:\/\/[^/]+/, '');
    const bases = businessUrls();
    let lastError: unknown = new Error('no business node');
    for (const base of bases) {
      try {
        return await fetch(base + path, { ...init, signal: AbortSignal.timeout(5_000) });
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };
}

export async function userToken(
  cluster: LocalCluster,
  uid: string,
): Promise<{ token: string; expiresAt: number }> {
  for (const base of liveBusiness(cluster)()) {
    const res = await cluster
      .http<{ token: string; expiresAt: number }>(base, 'POST', '/v1/tokens', {
        uid,
        role: 'customer',
        platform: 'app',
      })
      .catch(() => undefined);
    if (res?.status === 200) return res.json;
  }
  throw new Error(`no business node gave ${uid} a token`);
}

export const liveBusiness =
  (cluster: LocalCluster): BusinessUrls =>
  () =>
    cluster.nodesOf('business').map((n) => n.url);

export class Device {
  readonly client: CourierClient;
  /** Messages the SDK handed the app, in the order it did. */
  readonly emitted: Message[] = [];
  /** Times each message id arrived on the wire (push, sync page or `sent`), before the SDK's dedupe. */
  readonly arrivals = new Map<string, number>();
  readonly workers: string[] = []; // the worker of every welcome, in order
  readonly closes: number[] = []; // close codes seen, in order
  readonly errors: string[] = []; // what this test's own listeners threw (a bug in the test)
  state: ClientState = 'idle';

  private constructor(
    readonly uid: string,
    readonly name: string,
    cluster: LocalCluster,
    token: { token: string; expiresAt: number },
  ) {
    const onWire = (text: string) => this.onWire(text);
    const closes = this.closes;
    class WatchedSocket extends WebSocket {
      constructor(url: string) {
        super(url);
        this.on('message', (data) => onWire(String(data)));
        this.on('close', (code) => closes.push(code));
      }
    }
    const urls = liveBusiness(cluster);
    this.client = new CourierClient({
      baseUrl: urls()[0] ?? 'http://127.0.0.1:1',
      fetch: failoverFetch(urls),
      token,
      refreshToken: () => userToken(cluster, uid),
      WebSocket: WatchedSocket,
      reconnect: { initialMs: 100, maxMs: 2_000 },
      onListenerError: (err) => this.errors.push(String(err)),
    });
    this.client.on('message', (m) => {
      if (m.to.includes(uid)) this.emitted.push(m);
    });
    this.client.on('state', (s) => {
      this.state = s;
      const worker = this.client.connection?.worker;
      if (s === 'open' && worker) this.workers.push(worker);
    });
  }

  /** Connects `uid` through /v1/gateway (device `name` of that user) and resolves once it is open. */
  static async open(cluster: LocalCluster, uid: string, name: string): Promise<Device> {
    const device = new Device(uid, name, cluster, await userToken(cluster, uid));
    await device.client.connect();
    return device;
  }

  get worker(): string | undefined {
    return this.client.connection?.worker;
  }

  has(id: string): boolean {
    return this.emitted.some((m) => m.id === id);
  }

  close(): void {
    this.client.close();
  }

  /** Counts message ids addressed to this device's user as they come off the socket. */
  private onWire(text: string): void {
    let frame: { type?: string; message?: Message; messages?: Message[] };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      this.errors.push(`unreadable frame ${text.slice(0, 80)}`);
      return;
    }
    const messages =
      frame.type === 'message' || frame.type === 'sent'
        ? [frame.message]
        : frame.type === 'sync'
          ? (frame.messages ?? [])
          : [];
    for (const m of messages) {
      if (m && m.to.includes(this.uid)) this.arrivals.set(m.id, (this.arrivals.get(m.id) ?? 0) + 1);
    }
  }
}
