// The Socket.IO reference peer of issue 6, target 4: the same job as courier done the usual Node way, so the
// same load tools can measure both on the same machine. HTTP POST /v1/messages (and /batch) → emit to the
// receiver's room → the client ACKs. Clients join the room of the uid given in the query (no tokens: kept
// simple on purpose, which favours the peer). N processes share rooms through @socket.io/redis-adapter.
//
//   node dist/scripts/loadtest/peers/socketio-server.js --redis-url redis://127.0.0.1:6379 --port 9000 --procs 2
//
// Prints one line `READY {"urls":[…],"pids":[…]}` on stdout when every process listens.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { LISTEN_BACKLOG } from '../../../internal/http/backlog.js';
import { check, list, parseOptions, type Specs } from '../args.js';
import { checkLoopback, runPeer, sendRoutes, toMessage, type OutMessage } from './peer-common.js';
import { freePorts } from '../local-servers.js';

const specs = {
  redisUrl: { kind: 'str', help: 'Redis for the adapter (required)' },
  host: { kind: 'str', def: '127.0.0.1', help: 'address to listen on' },
  port: {
    kind: 'int',
    def: 0,
    help: 'port of the first process; the others use the next ones (0 = free ports)',
  },
  procs: { kind: 'int', def: 1, help: 'server processes sharing rooms through Redis' },
  lifetime: { kind: 'num', def: 3600, help: 'seconds after which the peer stops by itself (0 = never)' },
  peers: { kind: 'str', help: '(internal) URLs of all processes, for GET /v1/gateway' },
  child: { kind: 'bool', help: '(internal) run as one of the forked processes' },
} satisfies Specs;

type Emit = (to: string, message: OutMessage) => void;

/** One server process: HTTP + Socket.IO on one port, rooms shared through Redis. */
async function serve(o: {
  redisUrl: string;
  host: string;
  port: number;
  peers: string[];
}): Promise<() => Promise<void>> {
  const pub = new Redis(o.redisUrl, { lazyConnect: true });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  let io: Server | undefined;
  const emit: Emit = (to, message) => io?.to(to).emit('message', message);
  let turn = 0;
  const http = createServer(
    sendRoutes(
      () => o.peers[turn++ % o.peers.length] as string,
      (m) => {
        emit(m.to[0] as string, m);
        return null;
      },
    ),
  );
  io = new Server(http, { transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub) });
  let acks = 0;
  io.on('connection', (socket) => {
    const uid = socket.handshake.query.uid;
    if (typeof uid !== 'string' || uid === '') {
      socket.disconnect(true);
      return;
    }
    void socket.join(uid);
    socket.on('ack', (ids: unknown) => {
      if (Array.isArray(ids)) acks += ids.length; // a real server would stop its resend timer here
    });
    socket.on(
      'send',
      (payload: { clientMsgId?: unknown; message?: Record<string, unknown> }, ack: unknown) => {
        const m = toMessage({ ...(payload?.message ?? {}), from: uid });
        const answer =
          typeof m === 'string'
            ? { error: { code: 'invalid_request', message: m } }
            : { clientMsgId: payload?.clientMsgId, message: m };
        if (typeof m !== 'string') emit(m.to[0] as string, m);
        if (typeof ack === 'function') (ack as (a: unknown) => void)(answer);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host, LISTEN_BACKLOG, () => resolve()); // as courier's: the same accept queue
  });
  return async () => {
    await new Promise<void>((resolve) => io?.close(() => resolve()));
    pub.disconnect();
    sub.disconnect();
    process.stderr.write(`socketio peer ${process.pid}: ${acks} acks received\n`);
  };
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(
    'peers/socketio-server',
    'Socket.IO reference peer for the load tools (issue 6, target 4).',
    specs,
    argv,
  );
  check(o.redisUrl !== '', '--redis-url is required (the Redis adapter is part of the comparison)');
  check(o.procs >= 1, `--procs must be at least 1 (got ${o.procs})`);
  checkLoopback(o.host);
  if (o.child) {
    const stop = await serve({ redisUrl: o.redisUrl, host: o.host, port: o.port, peers: list(o.peers) });
    process.send?.({ ready: true });
    const quit = () => void stop().finally(() => process.exit(0));
    process.once('SIGTERM', quit);
    process.once('disconnect', quit); // the primary went away: never linger holding sockets
    return;
  }
  const ports = o.port > 0 ? Array.from({ length: o.procs }, (_, i) => o.port + i) : await freePorts(o.procs);
  const urls = ports.map((p) => `http://${o.host}:${p}`);
  const self = fileURLToPath(import.meta.url);
  const children = ports.map((port) =>
    fork(
      self,
      [
        '--child',
        '--redis-url',
        o.redisUrl,
        '--host',
        o.host,
        '--port',
        String(port),
        '--peers',
        urls.join(','),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    ),
  );
  const stopAll = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  await Promise.all(
    children.map(
      (c, i) =>
        new Promise<void>((resolve, reject) => {
          c.once('message', () => resolve());
          c.once('exit', (code) =>
            reject(new Error(`peer process on port ${ports[i]} exited (${code}) before listening`)),
          );
        }),
    ),
  ).catch((err: unknown) => {
    stopAll();
    throw err;
  });
  process.stdout.write(`READY ${JSON.stringify({ urls, pids: children.map((c) => c.pid) })}\n`);
  const exited = Promise.all(
    children.map(
      (c) => new Promise((resolve) => (c.exitCode === null ? c.once('exit', resolve) : resolve(null))),
    ),
  );
  process.once('SIGTERM', stopAll);
  process.once('SIGINT', stopAll);
  if (o.lifetime > 0) setTimeout(stopAll, o.lifetime * 1000).unref();
  await exited;
}

runPeer('socketio-server', main);
