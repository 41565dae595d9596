// Typed errors that map to the HTTP error body of DESIGN §3:
// {"error": {"code", "message", "field"}} with the status the code implies.

export type ErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'unauthorized'
  | 'token_expired'
  | 'forbidden'
  | 'blacklisted'
  | 'not_found'
  | 'too_large'
  | 'content_rejected'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  token_expired: 401,
  forbidden: 403,
  blacklisted: 403,
  not_found: 404,
  too_large: 413,
  content_rejected: 422,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(STATUS, code);
}

export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class CourierError extends Error {
  override readonly name = 'CourierError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = STATUS[code];
  }

  toBody(): ErrorBody {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/** Turns anything thrown into the public error body, hiding internals of unexpected errors. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof CourierError) return { status: err.status, body: err.toBody() };
  return { status: 500, body: { code: 'internal', message: 'internal error' } };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
