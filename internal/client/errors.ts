// Errors the client reports: rejected sends, refused connections, protocol trouble. `code` is the server's
// error code where there is one (DESIGN §3), or one of the client's own below.

export type ClientErrorCode =
  | 'banned' // closed with 4003 or refused with 403: the client stops
  | 'unauthorized' // the token is refused and no refresh callback gave a better one
  | 'token_refresh_failed'
  | 'protocol' // the server sent something the client cannot read
  | 'closed' // the client was closed while the operation was pending
  | (string & Record<never, never>); // any server error code, e.g. content_rejected, forbidden, not_found

export class CourierClientError extends Error {
  override readonly name = 'CourierClientError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly ref?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Server error codes worth sending again with the same clientMsgId: business stores each clientMsgId once,
 * so a retry can never duplicate a message. Everything else is a verdict on the message itself.
 */
const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal', 'timeout']);

export function isRetryable(code: string): boolean {
  return RETRYABLE.has(code);
}
