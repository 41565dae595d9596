import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { CourierError, toErrorBody, type ErrorBody } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { jsonProblem } from '../protocol/json-guard.js';

// The few routes that carry every message (POST /v1/messages and /batch, the dispatch and uplink calls
// between nodes) served on node:http directly. Measured on this machine, Express answers a small JSON POST
// in about 4x the CPU of node:http (4,700 vs 20,500 req/s, see docs/BENCHMARKS.md); every other route stays
// on Express. The answers are the same: JSON bodies, x-request-id, the error body of DESIGN §3.

export interface FastRequest {
  req: IncomingMessage;
  res: ServerResponse;
  body: unknown;
  requestId: string;
}

/** Answers 200 with the returned value as JSON; throw a CourierError for anything else. */
export type FastHandler = (request: FastRequest) => Promise<unknown>;

class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

export class FastRoutes {
  private readonly routes = new Map<string, FastHandler>();

  constructor(private readonly options: { maxBodyBytes: number; logger: Logger }) {}

  post(path: string, handler: FastHandler): void {
    this.routes.set(`POST ${path}`, handler);
  }

  /** Takes the request when it is one of these routes; false leaves it to Express. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const handler = this.routes.get(`${req.method} ${q < 0 ? url : url.slice(0, q)}`);
    if (!handler) return false;
    this.run(handler, req, res).catch((err: unknown) =>
      this.options.logger.error({ err }, 'fast route failed'),
    );
    return true;
  }

  private async run(handler: FastHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', requestId);
    try {
      const body = await readJson(req, this.options.maxBodyBytes);
      send(res, 200, await handler({ req, res, body, requestId }));
    } catch (err) {
      if (err instanceof BodyError) {
        // The rest of an oversized or broken body is not read: close the socket after this answer.
        res.setHeader('connection', 'close');
        return send(res, err.status, { error: err.body });
      }
      const mapped = toErrorBody(err);
      if (mapped.status >= 500 && !(err instanceof CourierError)) {
        this.options.logger.error({ err, path: req.url, requestId }, 'request failed');
      }
      send(res, mapped.status, { error: mapped.body });
    }
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function decoded(req: IncomingMessage): Readable {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return req;
  if (encoding === 'gzip') return req.pipe(createGunzip());
  if (encoding === 'deflate') return req.pipe(createInflate());
  throw new BodyError(400, {
    code: 'invalid_request',
    message: `unsupported content-encoding "${encoding}"`,
  });
}

/** Reads the whole body (at most `limit` bytes once decoded) and parses it as JSON, with the same checks as Express. */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new BodyError(413, { code: 'too_large', message: 'the body is too large' });
  const stream = decoded(req);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new BodyError(413, { code: 'too_large', message: 'the body is too large' });
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof BodyError) throw err;
    throw new BodyError(400, { code: 'invalid_request', message: 'the body could not be read' });
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  const problem = bytes.length === 0 ? 'is empty' : isUtf8(bytes) ? jsonProblem(bytes) : 'is not valid UTF-8';
  if (problem) throw new BodyError(400, { code: 'invalid_json', message: `the body ${problem}` });
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BodyError(400, { code: 'invalid_json', message: 'the body is not valid JSON' });
  }
  // Like Express's strict JSON parser: a bare string, number or null is not a request body.
  if (typeof value !== 'object' || value === null) {
    throw new BodyError(400, { code: 'invalid_json', message: 'the body must be a JSON object or array' });
  }
  return value;
}
