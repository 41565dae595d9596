import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenVerifier } from '../auth/claims.js';
import { blacklistAdmit } from '../blacklist/admit.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import { ClientIp } from '../blacklist/client-ip.js';
import type { Config } from '../config/schema.js';
import type { Discovery, Registration, WorkerNode } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import { advertisedHost, answerClientError } from '../http/app.js';
import { LISTEN_BACKLOG } from '../http/backlog.js';
import { InternalAuth } from '../http/internal-auth.js';
import { componentLogger, type Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { nodeStats } from '../metrics/node-stats.js';
import type { RoleNode } from '../node/lifecycle.js';
import { readiness } from '../node/readiness.js';
import type { Registry } from '../registry/registry.js';
import type { InProcessWorkers } from '../rpc/in-process-workers.js';
import type { DeliverBatch } from '../rpc/push.js';
import { HttpUplink } from './http-uplink.js';
import { connectionCap, readOpenFilesLimit } from './open-files.js';
import { deliverSafely, PushServer } from './push-server.js';
import type { Uplink } from './uplink.js';
import { workerHttpHandler } from './worker-http.js';
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

/** The options of a worker node as the configuration gives them. */
export function workerOptions(config: Config, id: string, internalKey: string): WorkerNodeOptions {
  return {
    id,
    worker: config.worker,
    registryTtlSeconds: config.registry.ttlSeconds,
    internalKey,
    uplinkTimeoutMs: config.business.dispatchTimeoutMs,
    trustedProxies: config.http.trustedProxies,
  };
}

export interface WorkerNodeDeps {
  registry: Registry;
  discovery: Discovery;
  verifier: TokenVerifier;
  logger: Logger;
  blacklist?: Blacklist; // checked (and attempts counted) before every upgrade
  metrics?: Metrics; // the process's; a registry of its own when absent
  /** Business in this process (the all-in-one): client frames go to it directly, not over HTTP. */
  uplink?: Uplink;
  /**
   * Where a dispatcher in this process (the all-in-one) finds this worker, to push without gRPC; the gRPC
   * server still runs for dispatchers elsewhere. The worker is marked stopped there when it closes.
   */
  inProcess?: InProcessWorkers;
}

export interface RunningWorker extends RoleNode {
  readonly node: WorkerNode;
  readonly gateway: WsGateway;
}

/** Starts a worker: WebSocket gateway + gRPC push server, registered in discovery under its id. */
export async function startWorker(options: WorkerNodeOptions, deps: WorkerNodeDeps): Promise<RunningWorker> {
  const { id, worker } = options;
  const logger = componentLogger(deps.logger, 'worker', { id, role: 'worker' });
  const metrics = deps.metrics ?? Metrics.create();
  const startedAt = Date.now();

  // A worker restarting under a used id owns whatever its previous life left in the registry: drop it now.
  const stale = await deps.registry.removeWorker(id);
  if (stale > 0) logger.info({ stale }, 'removed registry entries left by a previous run of this worker id');
  await deps.registry.checkpoint(id); // sets the marker that later checkpoints watch

  let httpUplink: HttpUplink | undefined; // the HTTP hop, unless business runs in this process
  let uplink: Uplink;
  if (deps.uplink) {
    uplink = deps.uplink;
  } else {
    httpUplink = new HttpUplink(
      { key: options.internalKey, timeoutMs: options.uplinkTimeoutMs },
      deps.discovery,
      logger,
    );
    await httpUplink.start();
    uplink = httpUplink;
  }
  // Read once: a limit raised later (prlimit) takes effect on the next start.
  const cap = connectionCap(worker.maxConnections, readOpenFilesLimit());
  logger.info({ maxConnections: cap.max, source: cap.source }, 'connection cap');
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
      maxConnections: cap.max ?? Infinity,
    },
    {
      verifier: deps.verifier,
      registry: deps.registry,
      uplink,
      logger,
      admit: deps.blacklist && blacklistAdmit(deps.blacklist),
      clientIp: new ClientIp(options.trustedProxies),
      metrics: metrics.worker,
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
    workerHttpHandler({
      ready: readiness({
        draining: () => draining,
        registered: () => registration !== undefined,
        backends: { registry: () => deps.registry.ping(), discovery: () => deps.discovery.ping() },
      }),
      metrics,
      stats: () =>
        nodeStats(
          { id, role: 'worker', startedAt },
          metrics.worker.window.snapshot(),
          gateway.connectionCount(),
        ),
      auth: new InternalAuth(options.internalKey),
      logger,
    }),
  );
  // An oversized upgrade URL or headers get the documented 413 and error body, not Node's bare 431.
  http.on('clientError', answerClientError);
  gateway.attach(http);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(worker.ws.port, worker.ws.host, LISTEN_BACKLOG, () => resolve());
  });
  const wsPort = (http.address() as AddressInfo).port;

  const deliver: DeliverBatch = (items) => gateway.deliverBatch(items);
  const push = new PushServer(deliver, logger, metrics.shared);
  const grpcPort = await push.listen(worker.grpc.host, worker.grpc.port);
  // Attached before it registers: a dispatcher in this process that finds it in discovery links in-process.
  const detach = deps.inProcess?.attach(id, (items) => deliverSafely(deliver, items, logger));

  const node: WorkerNode = {
    role: 'worker',
    id,
    grpc: worker.grpc.advertise || `${advertisedHost(worker.grpc.host)}:${grpcPort}`,
    ws: worker.ws.advertise || `ws://${advertisedHost(worker.ws.host)}:${wsPort}${worker.path}`,
    conns: 0,
    ...(cap.max !== null && { maxConns: cap.max }), // left out when uncapped: read as no cap everywhere
    startedAt,
  };
  registration = await deps.discovery.register(node);
  metrics.nodeStarted('worker', id, startedAt);
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
      const closing = gateway.drain();
      logger.info({ closing }, 'draining: closed client connections with 1012');
      const deadline = Date.now() + graceMs;
      while (gateway.connectionCount() > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
    },
    close() {
      closed ??= (async () => {
        detach?.(); // from now on a dispatcher in this process treats it as a dead worker
        clearInterval(publish);
        checkpoints.stop();
        await gateway.stop();
        await push.close();
        httpUplink?.close();
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
 * Redis may restart empty or be flushed, and a dispatcher may sweep this worker (it froze past its lease, or
 * by mistake); the periodic refresh (a third of the registry TTL, a minute by default) would put the entries
 * back only that much later. A checkpoint every second notices the loss at the cost of one small round trip
 * and re-puts every held connection at once. Messages sent while the entries were missing were pushed to
 * nobody, so the held connections are then closed with 1012 (spread over RESYNC_SPREAD_MS) and their
 * clients reconnect and sync by seq: found by the chaos test, where such a message was never shown.
 */
const RESYNC_SPREAD_MS = 2_000;

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
    if (stopped) return;
    const resyncing = gateway.resync(RESYNC_SPREAD_MS);
    logger.warn({ conns: resyncing }, 'closing connections with 1012 so their clients sync what they missed');
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
