import http from 'node:http';
import https from 'node:https';
import { CourierError, isErrorCode, type ErrorBody } from '../errors.js';

// JSON over HTTP between courier nodes (business → dispatcher, worker → business), on keep-alive sockets,
// so a busy pair of nodes reuses a handful of them.

export class InternalCallError extends Error {
  override readonly name = 'InternalCallError';
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: ErrorBody | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${url} answered ${status}${body ? `: ${body.code} ${body.message}` : ''}`, options);
  }

  /** True when another node might succeed (network failure, timeout, 5xx). */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }

  /** The remote node's own error, for errors that are the caller's fault (4xx). */
  toCourierError(): CourierError {
    const b = this.body;
    if (this.status >= 400 && this.status < 500 && b) {
      return new CourierError(isErrorCode(b.code) ? b.code : 'invalid_request', b.message, b.field);
    }
    return new CourierError(
      'unavailable',
      'a courier node did not answer; retry with the same clientMsgId',
      undefined,
      { cause: this },
    );
  }
}

/**
 * One keep-alive pool per scheme for every call this process makes. node:http rather than fetch: fetch
 * costs 5 times the CPU per call (its WHATWG request, headers, abort signal and body stream objects; 358
 * against 69 µs per call measured, BENCHMARKS.md), and business makes one call per dispatch batch, each
 * worker one per uplink batch. The agent closes an idle socket a second before the server's Keep-Alive
 * hint says the server will.
 */
const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

export async function postJson<T>(
  url: string,
  body: unknown,
  options: { key: string; timeoutMs: number; requestId?: string },
): Promise<T> {
  const payload = Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': payload.length,
    authorization: `Bearer ${options.key}`,
  };
  if (options.requestId) headers['x-request-id'] = options.requestId;
  let res: { status: number; text: string };
  try {
    res = await post(new URL(url), headers, payload, options.timeoutMs, Date.now() + options.timeoutMs);
  } catch (err) {
    throw new InternalCallError(url, 0, undefined, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = res.text ? JSON.parse(res.text) : undefined;
  } catch (err) {
    throw new InternalCallError(url, res.status || 502, undefined, { cause: err });
  }
  if (res.status < 200 || res.status > 299) {
    const error = (parsed as { error?: ErrorBody } | undefined)?.error;
    throw new InternalCallError(url, res.status, error);
  }
  return parsed as T;
}

/**
 * A call on a pooled socket that the server closed meanwhile (its keep-alive timeout) fails before any
 * answer; it is sent again, once, on a fresh socket, as the node pool would resend it to another node. The
 * timeout is a deadline for the whole answer, not for silence between packets.
 */
function post(
  url: URL,
  headers: Record<string, string | number>,
  payload: Buffer,
  timeoutMs: number,
  deadline: number, // shared by the resend, so a call never takes longer than timeoutMs in all
  retried = false,
): Promise<{ status: number; text: string }> {
  const [client, agent] = url.protocol === 'https:' ? [https, agents.https] : [http, agents.http];
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = client.request(url, { method: 'POST', headers, agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      Math.max(0, deadline - Date.now()),
    );
    function fail(err: NodeJS.ErrnoException): void {
      clearTimeout(timer);
      if (!retried && !answered && req.reusedSocket && err.code === 'ECONNRESET') {
        resolve(post(url, headers, payload, timeoutMs, deadline, true));
      } else reject(err);
    }
    req.on('error', fail);
    req.end(payload);
  });
}
