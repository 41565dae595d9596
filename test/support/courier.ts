// Starts courier for tests and talks to it like a real client would: HTTP with fetch, WebSocket with `ws`.
import { hostname } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildConfig } from '../../internal/config/load.js';
import type { Config } from '../../internal/config/schema.js';
import { silentLogger, type Logger } from '../../internal/log/logger.js';
import { startAllInOne, type AllInOne } from '../../internal/node/all-in-one.js';
import type { ServerFrame } from '../../internal/protocol/frames.js';
import { tempDir } from './servers.js';

export const API_KEY = 'test-api-key-0123456789';

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

/** Config for a test node: free ports, a temp SQLite file, a known API key, silent logs. */
export function testConfig(dir: string, overrides: Record<string, unknown> = {}): Config {
  const base = {
    log: { level: 'silent' },
    auth: { apiKeys: [API_KEY], jwt: { secret: 'test-secret-test-secret-test-secret-0000' } },
    store: { sqlite: { path: join(dir, 'courier.db') } },
    business: { http: { host: '127.0.0.1', port: 0 } },
    dispatcher: { http: { host: '127.0.0.1', port: 0 } },
    worker: { ws: { host: '127.0.0.1', port: 0 }, grpc: { host: '127.0.0.1', port: 0 }, tickMs: 10 },
    shutdown: { graceSeconds: 2 },
  };
  return buildConfig(merge(base, overrides));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export interface HttpAnswer<T = Record<string, unknown>> {
  status: number;
  json: T;
  headers: Headers;
}

export class TestCourier {
  private readonly clients = new Set<TestClient>();

  private constructor(
    readonly app: AllInOne,
    readonly config: Config,
    private readonly dir: { remove: () => void },
  ) {}

  /** `logger` receives every role's logs (tests that follow a request through them); silent by default. */
  static async start(
    overrides: DeepPartial<Config> | Record<string, unknown> = {},
    logger: Logger = silentLogger(),
  ): Promise<TestCourier> {
    const dir = tempDir('e2e');
    const config = testConfig(dir.path, overrides as Record<string, unknown>);
    const app = await startAllInOne(config, logger, hostname());
    return new TestCourier(app, config, dir);
  }

  get baseUrl(): string {
    return this.app.business.http;
  }

  get wsUrl(): string {
    return this.app.worker.node.ws;
  }

  async http<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    auth: string | null = API_KEY,
  ): Promise<HttpAnswer<T>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (auth) headers.authorization = `Bearer ${auth}`;
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  }

  async token(uid: string, platform = 'web', role: 'customer' | 'agent' = 'customer'): Promise<string> {
    const res = await this.http<{ token: string }>('POST', '/v1/tokens', { uid, role, platform });
    if (res.status !== 200) throw new Error(`token for ${uid}: ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.token;
  }

  /** Connects and waits for `welcome`; `ack: false` withholds ACKs so tests can watch resends. */
  async connect(
    uid: string,
    platform = 'web',
    options: { ack?: boolean; role?: 'customer' | 'agent' } = {},
  ): Promise<TestClient> {
    const client = await TestClient.open(
      this.wsUrl,
      await this.token(uid, platform, options.role),
      options.ack ?? true,
    );
    this.clients.add(client);
    return client;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    await this.app.lifecycle.shutdown('test finished');
    this.dir.remove();
  }
}

type Frame = ServerFrame & Record<string, unknown>;

export class TestClient {
  readonly frames: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  welcome!: Extract<ServerFrame, { type: 'welcome' }>;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    private readonly autoAck: boolean,
  ) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (this.autoAck && frame.type === 'message') this.send({ type: 'ack', ids: [frame.message.id] });
      const waiter = this.waiters.find((w) => w.pred(frame));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  }

  static open(url: string, token: string, autoAck = true): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
      const client = new TestClient(ws, autoAck);
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`refused ${res.statusCode}`), { status: res.statusCode })),
      );
      ws.once('error', reject);
      client.next('welcome').then((f) => {
        client.welcome = f;
        resolve(client);
      }, reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame matching `pred` (already received or arriving within `ms`). */
  wait(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching frame within ${ms} ms; have ${JSON.stringify(this.frames.slice(-5))}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  next<T extends ServerFrame['type']>(type: T, ms = 5000): Promise<Extract<ServerFrame, { type: T }>> {
    return this.wait((f) => f.type === type, ms) as Promise<Extract<ServerFrame, { type: T }>>;
  }

  /** Frames of a type received and not yet consumed by wait/next. */
  pending(type: ServerFrame['type']): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
