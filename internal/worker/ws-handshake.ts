import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Claims, TokenVerifier } from '../auth/claims.js';
import { ClientIp } from '../blacklist/client-ip.js';
import { CourierError, errorMessage, type ErrorBody } from '../errors.js';
import type { Logger } from '../log/logger.js';

// The HTTP half of a WebSocket connect (DESIGN §4): everything is decided on the plain upgrade request, so
// a refused client gets an ordinary HTTP status and JSON error body (401 token, 403 banned, 429 too many
// attempts, 503 try again), and never a WebSocket, a registry entry or any other state on the worker.

export interface AdmitContext {
  uid: string;
  ip: string;
}
export type AdmitResult =
  { ok: true } | { ok: false; status: 403 | 429; code: string; message: string; retryAfterSeconds?: number };
/** Checked after the token and before the upgrade (blacklist, connection-rate limits). */
export type Admit = (ctx: AdmitContext) => Promise<AdmitResult>;

/** A request that passed every check: who it is and what goes into its registry entry. */
export interface Admitted {
  claims: Claims;
  ip: string;
  channel: string;
}

export type Refusal = { status: number; body: ErrorBody; headers?: Record<string, string> };

export interface HandshakeChecks {
  path: string;
  verifier: TokenVerifier;
  admit: Admit | undefined;
  log: Logger;
  /** Resolves the client address (trusted proxies); the socket's peer when absent. */
  clientIp?: ClientIp | undefined;
  /** A verifier or admit hook slower than this is given up on with 503 (default: no limit). */
  timeoutMs?: number | undefined;
}

const MAX_CHANNEL_CHARS = 64; // `?channel=` ends up in every registry value of the connection
const NO_PROXIES = new ClientIp([]);

/** Decides on one upgrade request; never throws (a failing verifier or admit hook becomes a refusal). */
export async function admitUpgrade(
  req: IncomingMessage,
  checks: HandshakeChecks,
): Promise<Admitted | Refusal> {
  const decision = decide(req, checks);
  const { timeoutMs } = checks;
  if (timeoutMs === undefined) return decision;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Refusal>((resolve) => {
    timer = setTimeout(() => {
      checks.log.warn({ timeoutMs }, 'handshake checks timed out');
      resolve({ status: 503, body: { code: 'unavailable', message: 'handshake timed out, try again' } });
    }, timeoutMs);
  });
  try {
    return await Promise.race([decision, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function decide(req: IncomingMessage, checks: HandshakeChecks): Promise<Admitted | Refusal> {
  const target = readTarget(req);
  if (!target || target.pathname !== checks.path) {
    return { status: 404, body: { code: 'not_found', message: 'no WebSocket endpoint here' } };
  }
  if (!target.token) return { status: 401, body: { code: 'unauthorized', message: 'missing token' } };
  if (target.channel.length > MAX_CHANNEL_CHARS) {
    const message = `channel holds at most ${MAX_CHANNEL_CHARS} characters`;
    return { status: 400, body: { code: 'invalid_request', message, field: 'channel' } };
  }
  let claims: Claims;
  try {
    claims = await checks.verifier.verify(target.token);
  } catch (err) {
    if (err instanceof CourierError && err.status === 401) return { status: 401, body: err.toBody() };
    checks.log.warn({ err: errorMessage(err) }, 'token verifier failed');
    return { status: 401, body: { code: 'unauthorized', message: 'invalid token' } };
  }
  if (!(claims.expiresAt > Date.now())) {
    // Also catches a NaN expiry from a broken verifier, which would otherwise never expire.
    return { status: 401, body: { code: 'token_expired', message: 'token expired' } };
  }
  const ip = clientIp(req, checks.clientIp);
  if (checks.admit) {
    let verdict: AdmitResult;
    try {
      verdict = await checks.admit({ uid: claims.uid, ip });
    } catch (err) {
      // Fail closed: when the blacklist cannot be read, a banned user must not get in; clients retry.
      checks.log.warn({ err: errorMessage(err), uid: claims.uid }, 'admission check failed');
      return { status: 503, body: { code: 'unavailable', message: 'try again later' } };
    }
    if (!verdict.ok) {
      const refusal: Refusal = {
        status: verdict.status,
        body: { code: verdict.code, message: verdict.message },
      };
      if (verdict.retryAfterSeconds !== undefined) {
        refusal.headers = { 'Retry-After': String(verdict.retryAfterSeconds) };
      }
      return refusal;
    }
  }
  return { claims, ip, channel: target.channel };
}

function readTarget(
  req: IncomingMessage,
): { pathname: string; token: string | null; channel: string } | null {
  let url: URL;
  try {
    // Only the path and query are used; the base just makes a relative request target parseable.
    url = new URL(req.url ?? '/', 'http://worker.invalid');
  } catch {
    return null;
  }
  return {
    pathname: url.pathname,
    token: url.searchParams.get('token') || bearer(req.headers.authorization),
    channel: url.searchParams.get('channel') ?? '',
  };
}

function bearer(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * The client address in canonical form: the socket's peer, or what trusted proxies reported in
 * X-Forwarded-For. IPv4 peers on a dual-stack listener (`::ffff:a.b.c.d`) come out as plain IPv4, so that an
 * IP ban on `a.b.c.d` matches.
 */
export function clientIp(req: IncomingMessage, resolver: ClientIp = NO_PROXIES): string {
  return resolver.resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
}

/** Answers the upgrade request with a plain HTTP error and closes the socket once it is flushed. */
export function refuse(socket: Duplex, { status, body, headers = {} }: Refusal): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const json = JSON.stringify({ error: body });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      '\r\n' +
      json,
  );
}

/**
 * Error listener for upgrade sockets while the token is being verified: Node removes its own listener
 * before emitting `upgrade`, and an unhandled socket error (client reset) would crash the process.
 * Shared so that it can be removed again before ws takes the socket over.
 */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
