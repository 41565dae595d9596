// What the reference peers share: the message they make of a send, their JSON answers, the loopback-only rule
// and how they run as programs.
import type { ServerResponse } from 'node:http';
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
