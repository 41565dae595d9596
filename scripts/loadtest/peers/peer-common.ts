// What the reference peers share: the message they make of a send, their HTTP routes and JSON answers, the
// loopback-only rule and how they run as programs.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { HelpRequested, UsageError, check } from '../args.js';

export function reply(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/** Peers are load-test servers with no authentication worth the name: they never listen beyond loopback. */
export function checkLoopback(host: string): void {
  check(
    /^127\.\d+\.\d+\.\d+$/.test(host),
    `--host must be a loopback address (got ${host}): a load-test peer only`,
  );
}

/** Runs a peer's main: --help to stdout, usage errors exit 2, anything else 1, each with one line. */
export function runPeer(name: string, main: (argv: string[]) => Promise<void>): void {
  main(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.message);
      return;
    }
    process.stderr.write(
      `${name}: ${err instanceof UsageError ? '' : 'failed: '}${(err as Error).message}\n`,
    );
    process.exitCode = err instanceof UsageError ? 2 : 1;
  });
}

export interface OutMessage {
  id: string;
  conversation: string;
  seq: number;
  from: string;
  to: string[];
  type: string;
  content: unknown;
  ts: number;
}

let counter = 0;
const idPrefix = process.pid.toString(36);

/** Checks the subset of courier's send body the peers understand; returns an error text or the message. */
export function toMessage(input: unknown): OutMessage | string {
  if (typeof input !== 'object' || input === null) return 'body: expected an object';
  const { from, to, type, content } = input as Record<string, unknown>;
  if (typeof from !== 'string' || from === '') return 'from: required';
  if (typeof to !== 'string' || to === '') return 'to: required';
  if (typeof type !== 'string') return 'type: required';
  if (content === undefined) return 'content: required';
  const conversation = from < to ? `d:${from}:${to}` : `d:${to}:${from}`;
  return {
    id: `${idPrefix}-${++counter}`,
    conversation,
    seq: 0,
    from,
    to: [to],
    type,
    content,
    ts: Date.now(),
  };
}

const MAX_BODY = 4 * 1024 * 1024;

/** The body of a request as text; an oversized one is read to its end and refused, so it still gets an answer. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () =>
      size > MAX_BODY ? reject(new Error('body too large')) : resolve(Buffer.concat(chunks).toString()),
    );
    req.on('error', reject);
  });
}

/**
 * The HTTP side every peer has: `GET /v1/gateway` (the WebSocket URL `gateway` names), `GET /healthz`, and
 * `POST /v1/messages` and `/batch` with courier's request and answer shapes. `deliver` pushes one checked
 * message and says to how many connections, or null when the peer cannot tell.
 */
export function sendRoutes(
  gateway: () => string,
  deliver: (m: OutMessage) => number | null,
): RequestListener {
  const send = (input: unknown) => {
    const m = toMessage(input);
    if (typeof m === 'string') return { error: { code: 'invalid_request', message: m } };
    const delivered = deliver(m);
    return { id: m.id, conversation: m.conversation, seq: 0, ts: m.ts, to: m.to, filtered: false, delivered };
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/gateway') return reply(res, 200, { url: gateway() });
    if (req.method === 'GET' && path === '/healthz') return reply(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/batch')) {
      return reply(res, 404, { error: { code: 'not_found', message: 'no such endpoint' } });
    }
    readBody(req)
      .then((text) => {
        const body: unknown = JSON.parse(text);
        if (path === '/v1/messages') {
          const result = send(body);
          return reply(res, 'error' in result ? 400 : 200, result);
        }
        const messages = (body as { messages?: unknown } | null)?.messages;
        if (!Array.isArray(messages))
          return reply(res, 400, { error: { code: 'invalid_request', message: 'messages: required' } });
        reply(res, 200, { results: messages.map(send) });
      })
      .catch((err: Error) => reply(res, 400, { error: { code: 'invalid_request', message: err.message } }));
  };
}
