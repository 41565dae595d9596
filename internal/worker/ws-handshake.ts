import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '../errors.js';

// The HTTP half of a WebSocket connect (DESIGN §4): everything is decided on the plain upgrade request, so
// a refused client gets an ordinary HTTP status and JSON error body, and never a WebSocket.

/** The upgrade request's target and the parameters the gateway reads from it. */
export interface UpgradeTarget {
  pathname: string;
  token: string | null;
  channel: string;
}

export function readUpgradeTarget(req: IncomingMessage): UpgradeTarget | null {
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
 * The peer address of the socket. IPv4 peers on a dual-stack listener show up as `::ffff:a.b.c.d`; they are
 * reported as plain IPv4 so that an IP ban on `a.b.c.d` matches.
 */
export function clientIp(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** Answers the upgrade request with a plain HTTP error and closes the socket once it is flushed. */
export function refuse(socket: Duplex, status: number, body: ErrorBody): void {
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
