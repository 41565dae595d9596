import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { CourierError, toErrorBody } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { jsonProblem } from '../protocol/json-guard.js';
import { LISTEN_BACKLOG } from './backlog.js';
import type { FastRoutes } from './fast-routes.js';

// Express plumbing shared by the business and dispatcher HTTP servers: JSON bodies with a size cap, request
// ids, and every failure answered with the error body of DESIGN §3.

export function createApp(options: { maxBodyBytes: number }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    const id = req.get('x-request-id');
    const requestId = id && /^[\w.-]{1,64}$/.test(id) ? id : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    next();
  });
  app.use(express.json({ limit: options.maxBodyBytes, strict: true, verify: verifyJsonBody }));
  return app;
}

/** Refuses bodies that would otherwise be decoded with replacement characters or parse into values that
 * do not survive a round trip (see json-guard.ts): 400, nothing stored. */
function verifyJsonBody(_req: unknown, _res: unknown, buf: Buffer): void {
  const problem = isUtf8(buf) ? jsonProblem(buf) : 'is not valid UTF-8';
  if (problem)
    throw Object.assign(new Error(`the body ${problem}`), { status: 400, type: 'entity.verify.failed' });
}

/** Wraps an async route so a rejection reaches the error handler instead of becoming unhandled. */
export const route =
  (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };

/** 404 for unknown paths and the JSON error body for everything thrown; registered last. */
export function finishApp(app: Express, logger: Logger): void {
  app.use((_req, _res, next) => next(new CourierError('not_found', 'no such endpoint')));
  const onError: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const e = err as { type?: string; status?: number; message?: string };
    let mapped = toErrorBody(err);
    if (e.type === 'entity.parse.failed') {
      mapped = { status: 400, body: { code: 'invalid_json', message: 'the body is not valid JSON' } };
    } else if (e.type === 'entity.too.large') {
      mapped = { status: 413, body: { code: 'too_large', message: 'the body is too large' } };
    } else if (!(err instanceof CourierError) && e.status && e.status >= 400 && e.status < 500) {
      // Other refusals by body-parser and Express (bad charset or gzip, aborted upload, a path parameter
      // that does not decode): 400 is the status DESIGN §3 documents for bad input.
      mapped = { status: 400, body: { code: 'invalid_request', message: e.message ?? 'bad request' } };
    }
    if (mapped.status >= 500)
      logger.error({ err, path: req.path, requestId: res.locals.requestId }, 'request failed');
    if (res.headersSent) return;
    res.status(mapped.status).json({ error: mapped.body });
  };
  app.use(onError);
}

export interface Listening {
  server: Server;
  port: number;
  /**
   * Stops accepting, lets in-flight requests finish (each answer then closes its socket), closes idle
   * keep-alive sockets, and after `graceMs` (unbounded when absent) destroys the sockets still busy.
   */
  close(graceMs?: number): Promise<void>;
}

export function listen(
  app: Express | ((req: never, res: never) => void),
  host: string,
  port: number,
  fast?: FastRoutes,
): Promise<Listening> {
  const express = app as Express;
  const server = createServer(fast ? (req, res) => fast.handle(req, res) || express(req, res) : express);
  server.keepAliveTimeout = 65_000;
  server.on('clientError', answerClientError);
  // Answers not yet sent: on close they get `Connection: close`, or their keep-alive socket would carry
  // the client's next request and hold server.close() open for keepAliveTimeout (Node 20 waits for it).
  const answering = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;
  server.on('request', (_req, res: ServerResponse) => {
    if (closing) return keepNoSocket(res);
    answering.add(res);
    res.once('close', () => answering.delete(res));
  });
  const close = (graceMs?: number) =>
    (closing ??= new Promise<void>((done) => {
      for (const res of answering) keepNoSocket(res);
      // A client may still send on a socket that was idle a moment ago; sweeping idle sockets until the
      // server is closed catches those that become idle after their last answer.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const deadline =
        graceMs === undefined ? undefined : setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
        done();
      });
      server.closeIdleConnections();
    }));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, LISTEN_BACKLOG, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port, close });
    });
  });
}

/** The socket closes after this answer instead of waiting for another request. */
function keepNoSocket(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
}

/**
 * Requests Node refuses before Express sees them (a URL or headers over the 16 KiB limit, a malformed request
 * line) get a documented status and the error body of DESIGN §3 instead of Node's bare 431 or 400.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: tooLarge
      ? { code: 'too_large', message: 'the request line or headers are too large' }
      : { code: 'invalid_request', message: 'malformed HTTP request' },
  });
  socket.end(
    `HTTP/1.1 ${tooLarge ? '413 Payload Too Large' : '400 Bad Request'}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Host part of an advertised address: 0.0.0.0 and :: are not reachable addresses, so use loopback. */
export function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}
