import { CourierError, isErrorCode, type ErrorBody } from '../errors.js';

// JSON over HTTP between courier nodes (business → dispatcher, worker → business). Node's fetch keeps
// connections alive, so a busy pair of nodes reuses a handful of sockets.

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

export async function postJson<T>(
  url: string,
  body: unknown,
  options: { key: string; timeoutMs: number; requestId?: string },
): Promise<T> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${options.key}`,
  };
  if (options.requestId) headers['x-request-id'] = options.requestId;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    throw new InternalCallError(url, 0, undefined, { cause: err });
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch (err) {
    throw new InternalCallError(url, res.status || 502, undefined, { cause: err });
  }
  if (!res.ok) {
    const error = (parsed as { error?: ErrorBody } | undefined)?.error;
    throw new InternalCallError(url, res.status, error);
  }
  return parsed as T;
}
