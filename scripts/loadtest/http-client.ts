// HTTP for the generators: one keep-alive pool per generator with a bounded number of sockets, so a load
// run measures the server and not TCP set-up, and a stalled server shows up as queueing (latency) instead
// of thousands of new sockets eating the 20,000-file budget. Also token minting and the gateway cursor.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { HttpPool, type HttpAnswer } from './http-pool.js';
import type { TargetSpec } from './ipc.js';

export type { HttpAnswer } from './http-pool.js';

export class HttpClient {
  private readonly pool: HttpPool;
  private readonly hostHeader: string;
  private readonly timeoutMs: number;
  /**
   * The most requests that ever waited at once for a free socket of the pool. Above 0, the pool and the
   * server's answer time bounded what this client could send (`push` warns about it).
   */
  peakWaiting = 0;

  constructor(baseUrl: string, options: { maxSockets: number; timeoutMs: number }) {
    const base = new URL(baseUrl);
    if (base.protocol !== 'http:') throw new RangeError(`--url must be http:// (got ${baseUrl})`);
    const port = Number(base.port || 80);
    this.hostHeader = base.host;
    this.timeoutMs = options.timeoutMs;
    // URL keeps an IPv6 literal's brackets, which net.connect does not take.
    this.pool = new HttpPool(base.hostname.replace(/^\[|\]$/g, ''), port, options.maxSockets);
  }

  /** Resolves with any status; rejects only on a transport error (its `code` names it) or a timeout. */
  send(
    method: string,
    path: string,
    body: unknown,
    authorization: string,
    timeoutMs = this.timeoutMs,
  ): Promise<HttpAnswer> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`;
    if (authorization) head += `Authorization: Bearer ${authorization}\r\n`;
    if (body !== undefined)
      head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`;
    const answer = this.pool.send(`${head}\r\n${payload}`, timeoutMs);
    this.peakWaiting = Math.max(this.peakWaiting, this.pool.queued);
    return answer;
  }

  async json<T>(method: string, path: string, body: unknown, authorization: string): Promise<T> {
    const res = await this.send(method, path, body, authorization);
    if (res.status !== 200)
      throw new Error(`${method} ${path}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    return JSON.parse(res.body) as T;
  }

  close(): void {
    this.pool.close();
  }
}

/** Reason label for a failed request, e.g. "error ECONNRESET" or "error TIMEOUT". */
export function errorReason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return `error ${typeof code === 'string' ? code : (err as Error).message}`;
}

/** User tokens: minted locally with the shared HS256 secret, or asked from POST /v1/tokens with the API key. */
export class TokenSource {
  private readonly key: KeyObject | undefined;

  constructor(
    private readonly target: TargetSpec,
    private readonly http: HttpClient,
  ) {
    this.key = target.jwtSecret ? createSecretKey(Buffer.from(target.jwtSecret, 'utf8')) : undefined;
    if (target.kind === 'courier' && !this.key && !target.apiKey) {
      throw new RangeError('courier needs --jwt-secret (mint tokens locally) or --api-key (POST /v1/tokens)');
    }
  }

  async token(uid: string, role = this.target.role): Promise<string> {
    if (this.target.kind === 'socketio') return ''; // the reference peer identifies clients by a query uid
    const { platform } = this.target;
    if (this.key) {
      // The claims internal/auth/tokens.ts checks: sub (uid), role, platform, iss, exp; HS256 only.
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role, platform })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(uid)
        .setIssuer(this.target.jwtIssuer)
        .setIssuedAt(now)
        .setExpirationTime(now + 86_400)
        .sign(this.key);
    }
    const res = await this.http.json<{ token: string }>(
      'POST',
      '/v1/tokens',
      { uid, role, platform },
      this.target.apiKey,
    );
    return res.token;
  }
}

/** Where a generator's next connection goes: a worker's WebSocket URL. */
export interface WorkerPicker {
  url(authorization: string): Promise<string>;
  /** The last answer led to a full worker (503): do not hand it out again right away. */
  forget(): void;
}

/**
 * Every worker in turn, starting at `offset` (the generator's index, so that generators do not all start on
 * the first worker): `push` places its receivers this way when it knows the cluster's workers, so that
 * every worker carries a share of the messages. The gateway's least-loaded pick would put a burst of a few
 * hundred receivers on the one or two workers that held fewest connections (measured on 8 workers holding
 * 100,000: one or two of them did most of the pushing).
 */
export class WorkerRotation implements WorkerPicker {
  private next: number;

  constructor(
    private readonly urls: readonly string[],
    offset: number,
  ) {
    if (urls.length === 0) throw new Error('WorkerRotation needs at least one worker URL');
    this.next = offset % urls.length;
  }

  url(): Promise<string> {
    const url = this.urls[this.next] as string;
    this.next = (this.next + 1) % this.urls.length;
    return Promise.resolve(url);
  }

  forget(): void {
    // The retry of a refused open takes the next worker in turn anyway.
  }
}

/**
 * The WebSocket URL to connect to, from GET /v1/gateway asked once per `every` connections. Asking for each
 * connection would add one HTTP request per connection to the business tier and cap the open rate at its
 * request rate; asking once would pin every connection to one worker. Workers publish their connection
 * counts every few seconds, so a new answer every K connections tracks the least-loaded worker closely.
 */
export class GatewayCursor implements WorkerPicker {
  private current: Promise<string> | undefined;
  private used = 0;

  constructor(
    private readonly target: TargetSpec,
    private readonly http: HttpClient,
    private readonly every: number,
  ) {}

  url(authorization: string): Promise<string> {
    if (!this.current || this.used >= this.every) {
      this.used = 0;
      const next = this.http
        .json<{ url: string }>('GET', '/v1/gateway', undefined, this.target.apiKey || authorization)
        .then((r) => r.url);
      // A failed lookup must not poison later connections: the next caller asks again.
      next.catch(() => {
        if (this.current === next) this.current = undefined;
      });
      this.current = next;
    }
    this.used++;
    return this.current;
  }

  /** The current answer led to a full worker: the next connection asks the gateway again. */
  forget(): void {
    this.current = undefined;
  }
}
