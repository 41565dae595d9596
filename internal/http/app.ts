import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  app.use(express.json({ limit: options.maxBodyBytes, strict: true }));
  return app;
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
    } else if (typeof e.type === 'string' && e.status && e.status < 500) {
      // Other body-parser refusals: bad charset, bad encoding, aborted upload.
      mapped = {
        status: e.status,
        body: { code: 'invalid_request', message: e.message ?? 'bad request body' },
      };
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
  /** Stops accepting, lets in-flight requests finish, and closes idle keep-alive sockets. */
  close(): Promise<void>;
}

export function listen(
  app: Express | ((req: never, res: never) => void),
  host: string,
  port: number,
): Promise<Listening> {
  const server = createServer(app as Express);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/** Host part of an advertised address: 0.0.0.0 and :: are not reachable addresses, so use loopback. */
export function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
}
