import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenVerifier } from '../auth/claims.js';
import { blacklistAdmit } from '../blacklist/admit.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import { ClientIp } from '../blacklist/client-ip.js';
import type { Config } from '../config/schema.js';
import type { Discovery, Registration, WorkerNode } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import { advertisedHost } from '../http/app.js';
import type { Logger } from '../log/logger.js';
import type { RoleNode } from '../node/lifecycle.js';
import { CloseCode } from '../protocol/frames.js';
import type { Registry } from '../registry/registry.js';
import { HttpUplink } from './http-uplink.js';
import { PushServer } from './push-server.js';
import { WsGateway } from './ws-gateway.js';

export interface WorkerNodeOptions {
  id: string;
  worker: Config['worker'];
  registryTtlSeconds: number;
  internalKey: string;
  uplinkTimeoutMs: number;
  publishEveryMs?: number; // how often the connection count in discovery is refreshed (default 2_000)
  trustedProxies?: readonly string[]; // http.trustedProxies: whose X-Forwarded-For is believed
  checkpointEveryMs?: number; // how often the registry is asked whether it lost our entries (default 1_000)
}

export interface WorkerNodeDeps {
  registry: Registry;
  discovery: Discovery;
  verifier: TokenVerifier;
  logger: Logger;
  blacklist?: Blacklist; // checked (and attempts counted) before every upgrade
}

export interface RunningWorker extends RoleNode {
  readonly node: WorkerNode;
  readonly gateway: WsGateway;
}

/** Starts a worker: WebSocket gateway + gRPC push server, registered in discovery under its id. */
export async function startWorker(options: WorkerNodeOptions, deps: WorkerNodeDeps): Promise<RunningWorker> {
  const { id, worker } = options;
  const logger = deps.logger.child({ component: 'worker', node: id });

  // A worker restarting under a used id owns whatever its previous life left in the registry: drop it now.
  const stale = await deps.registry.removeWorker(id);
  if (stale > 0) logger.info({ stale }, 'removed registry entries left by a previous run of this worker id');
  await deps.registry.checkpoint(id); // sets the marker that later checkpoints watch

  const uplink = new HttpUplink(
    { key: options.internalKey, timeoutMs: options.uplinkTimeoutMs },
    deps.discovery,
    logger,
  );
  await uplink.start();
  const gateway = new WsGateway(
    {
      workerId: id,
      path: worker.path,
      ackTimeoutMs: worker.ackTimeoutMs,
      ackRetries: worker.ackRetries,
      heartbeatSeconds: worker.heartbeatSeconds,
      maxFrameBytes: worker.maxFrameBytes,
      maxPendingAcks: worker.maxPendingAcks,
      tickMs: worker.tickMs,
      refreshMs: Math.max(1_000, Math.floor((options.registryTtlSeconds * 1000) / 3)),
      handshakeTimeoutMs: worker.handshakeTimeoutMs,
      maxFramesPerSecond: worker.maxFramesPerSecond,
      frameBurst: worker.frameBurst,
    },
    {
      verifier: deps.verifier,
      registry: deps.registry,
      uplink,
      logger,
      admit: deps.blacklist && blacklistAdmit(deps.blacklist),
      clientIp: new ClientIp(options.trustedProxies),
    },
  );

  let registration: Registration | undefined;
  let draining = false;
  // A client that opens a socket and never finishes its upgrade request is cut after handshakeTimeoutMs.
  const handshakeMs = worker.handshakeTimeoutMs;
  const http = createServer(
    {
      headersTimeout: handshakeMs,
      requestTimeout: handshakeMs,
      connectionsCheckingInterval: Math.min(1_000, handshakeMs),
    },
    (req, res) => health(req, res),
  );
  const health = (req: IncomingMessage, res: ServerResponse) => {
    const ready = !draining && registration !== undefined;
    const body =
      req.url === '/healthz'
        ? { status: 'ok' }
        : req.url === '/readyz'
          ? { status: ready ? 'ready' : 'not_ready' }
          : undefined;
    res.statusCode = body === undefined ? 404 : req.url === '/readyz' && !ready ? 503 : 200;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body ?? { error: { code: 'not_found', message: 'no such endpoint' } }));
  };
  gateway.attach(http);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(worker.ws.port, worker.ws.host, () => resolve());
  });
  const wsPort = (http.address() as AddressInfo).port;

  const push = new PushServer((items) => gateway.deliverBatch(items), logger);
  const grpcPort = await push.listen(worker.grpc.host, worker.grpc.port);

  const node: WorkerNode = {
    role: 'worker',
    id,
    grpc: worker.grpc.advertise || `${advertisedHost(worker.grpc.host)}:${grpcPort}`,
    ws: worker.ws.advertise || `ws://${advertisedHost(worker.ws.host)}:${wsPort}${worker.path}`,
    conns: 0,
    startedAt: Date.now(),
  };
  registration = await deps.discovery.register(node);
  logger.info({ ws: node.ws, grpc: node.grpc }, 'worker started');

  // Publish the connection count for least-loaded gateway choice, only when it changed.
  const publish = setInterval(() => {
    const conns = gateway.connectionCount();
    if (conns === node.conns || !registration) return;
    node.conns = conns;
    registration
      .update({ ...node })
      .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'publishing connection count failed'));
  }, options.publishEveryMs ?? 2_000);
  publish.unref();
  const checkpoints = watchRegistry(id, deps.registry, gateway, logger, options.checkpointEveryMs ?? 1_000);

  let closed: Promise<void> | undefined;
  return {
    role: 'worker',
    id,
    node,
    gateway,
    async drain(graceMs: number) {
      if (draining) return;
      draining = true;
      checkpoints.stop(); // a leaving worker must not put back the entries its sweep removes
      await registration
        ?.revoke()
        .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'revoke failed'));
      // Clients reconnect through /v1/gateway to a live worker and sync what they missed by seq.
      const closing = gateway.closeAll(CloseCode.draining, 'server draining');
      logger.info({ closing }, 'draining: closed client connections with 1012');
      const deadline = Date.now() + graceMs;
      while (gateway.connectionCount() > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
    },
    close() {
      closed ??= (async () => {
        clearInterval(publish);
        checkpoints.stop();
        await gateway.stop();
        await push.close();
        uplink.close();
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      })();
      return closed;
    },
  };
}

/**
 * Redis may restart empty or be flushed, and a dispatcher may sweep this worker by mistake; the periodic
 * refresh (a third of the registry TTL, a minute by default) would put the entries back only that much
 * later. A checkpoint every second notices the loss at the cost of one small round trip and re-puts every
 * held connection at once, without any client action.
 */
function watchRegistry(
  id: string,
  registry: Registry,
  gateway: WsGateway,
  logger: Logger,
  everyMs: number,
): { stop(): void } {
  let running = false;
  let failing = false; // log the first failure and the recovery, not one line per second of an outage
  let stopped = false;
  const check = async () => {
    const missing = await registry.checkpoint(id);
    if (failing) logger.info('registry checkpoint answers again');
    failing = false;
    if (!missing || stopped) return;
    logger.warn(
      { conns: gateway.connectionCount() },
      'registry lost this worker’s marker (restarted empty, flushed or swept); putting every connection back',
    );
    // A periodic pass already running may have written part of its entries before the loss, and
    // refreshRegistry() joins a running pass: the second call is a full pass that starts after the loss.
    await gateway.refreshRegistry();
    await gateway.refreshRegistry();
  };
  const timer = setInterval(() => {
    if (running || stopped) return;
    running = true;
    check()
      .catch((err: unknown) => {
        if (!failing && !stopped) logger.warn({ err: errorMessage(err) }, 'registry checkpoint failed');
        failing = true;
      })
      .finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
