// The floor of issue 6's targets 2 and 4: the least any server can do for the same job on this machine. It
// speaks the part of courier's public contract that `push` uses (GET /v1/gateway, POST /v1/messages and
// /batch, the WebSocket `welcome` / `message` / `ack` frames of DESIGN §4), so the same tool drives it with
// `--target courier`, but it does nothing a push system must do besides relaying: no store, no sequence
// numbers, no registry, no rules, no signature check, no second process. What `push` measures against it is
// what this box's load generators and loopback TCP leave for a server; courier and the Socket.IO peer can
// only be compared below it.
//
//   node dist/scripts/loadtest/peers/relay-server.js --port 9100
//
// Prints one line `READY {"url":…,"pid":…}` on stdout once it listens.
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { LISTEN_BACKLOG } from '../../../internal/http/backlog.js';
import { parseOptions, type Specs } from '../args.js';
import { checkLoopback, runPeer, sendRoutes, type OutMessage } from './peer-common.js';

const specs = {
  host: { kind: 'str', def: '127.0.0.1', help: 'address to listen on (loopback only)' },
  port: { kind: 'int', def: 0, help: 'port of HTTP and WebSocket both (0 = a free port)' },
  lifetime: { kind: 'num', def: 3600, help: 'seconds after which the relay stops by itself (0 = never)' },
} satisfies Specs;

/** A receiver's socket and the ids pushed to it and not yet ACKed (what a resend timer would watch). */
interface Conn {
  ws: WebSocket;
  unacked: Set<string>;
}

/** The `sub` claim of a JWT, read without checking its signature: the floor leaves every check out. */
export function subject(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

export class Relay {
  private readonly byUid = new Map<string, Set<Conn>>();
  private opened = 0;
  readonly counts = { relayed: 0, acked: 0, unknownAcks: 0 };

  /** Pushes one message to every connection of its receiver; how many it was written to. */
  deliver(message: OutMessage): number {
    let delivered = 0;
    const conns = this.byUid.get(message.to[0] as string);
    if (conns) {
      const frame = JSON.stringify({ type: 'message', message });
      for (const conn of conns) {
        conn.unacked.add(message.id);
        conn.ws.send(frame);
        delivered++;
      }
    }
    this.counts.relayed++;
    return delivered;
  }

  open(ws: WebSocket, uid: string): void {
    const conn: Conn = { ws, unacked: new Set() };
    let conns = this.byUid.get(uid);
    if (!conns) this.byUid.set(uid, (conns = new Set()));
    conns.add(conn);
    ws.on('message', (data: Buffer, isBinary: boolean) => this.frame(conn, data, isBinary));
    ws.on('close', () => {
      conns.delete(conn);
      if (conns.size === 0) this.byUid.delete(uid);
    });
    ws.on('error', () => ws.terminate());
    ws.send(JSON.stringify({ type: 'welcome', connId: `load:relay:${++this.opened}`, uid, heartbeat: 60 }));
  }

  private frame(conn: Conn, data: Buffer, isBinary: boolean): void {
    if (isBinary) return void conn.ws.close(1003, 'binary frames are not supported');
    let frame: { type?: unknown; ids?: unknown };
    try {
      frame = JSON.parse(data.toString('utf8')) as typeof frame;
    } catch {
      conn.ws.send('{"type":"error","code":"bad_frame","message":"frame is not JSON"}');
      return;
    }
    if (frame.type === 'ack' && Array.isArray(frame.ids)) {
      for (const id of frame.ids) {
        if (typeof id === 'string' && conn.unacked.delete(id)) this.counts.acked++;
        else this.counts.unknownAcks++;
      }
    } else if (frame.type === 'ping') conn.ws.send('{"type":"pong"}');
  }
}

/** Starts the relay; resolves with its base URL and a stop function. */
export async function startRelay(o: { host: string; port: number }): Promise<{
  url: string;
  relay: Relay;
  stop: () => Promise<void>;
}> {
  const relay = new Relay();
  let wsUrl = '';
  const http = createServer(
    sendRoutes(
      () => wsUrl,
      (m) => relay.deliver(m),
    ),
  );
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const uid = url.pathname === '/ws' ? subject(url.searchParams.get('token') ?? '') : undefined;
    if (!uid) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => relay.open(ws, uid));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host, LISTEN_BACKLOG, () => resolve()); // as courier's: the same accept queue
  });
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  wsUrl = `ws://${o.host}:${port}/ws`;
  return {
    url: `http://${o.host}:${port}`,
    relay,
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(
    'peers/relay-server',
    'The floor for the load tools (issue 6): relays courier-shaped sends to WebSocket receivers and counts\n' +
      'their ACKs, and does nothing else (no store, no registry, no checks).',
    specs,
    argv,
  );
  checkLoopback(o.host);
  const { url, relay, stop } = await startRelay(o);
  process.stdout.write(`READY ${JSON.stringify({ url, pid: process.pid })}\n`);
  const quit = () =>
    void stop().finally(() => {
      process.stderr.write(`relay ${process.pid}: ${JSON.stringify(relay.counts)}\n`);
      process.exit(0);
    });
  process.once('SIGTERM', quit);
  process.once('SIGINT', quit);
  if (o.lifetime > 0) setTimeout(quit, o.lifetime * 1000).unref();
}

// Imported by the tests for startRelay; run as a program otherwise.
if (process.argv[1]?.endsWith('relay-server.js')) runPeer('relay-server', main);
