import type { Discovery, WorkerNode } from '../discovery/discovery.js';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { DispatcherMetrics } from '../metrics/dispatcher-metrics.js';
import type { ServerFrame } from '../protocol/frames.js';
import type { ConnectionRef, Registry } from '../registry/registry.js';
import type { InProcessWorkers } from '../rpc/in-process-workers.js';
import type { PushItem } from '../rpc/push.js';
import type { Dispatch, DispatchItem, DispatchResult } from './dispatch.js';
import { InProcessLink } from './in-process-link.js';
import { LinkError, WorkerLink, type LinkContext, type PushLink } from './worker-link.js';

export interface DispatchServiceOptions {
  pushTimeoutMs: number; // wait this long for a worker's answer to a batch
  /**
   * Sweep a worker's registry entries this long after it left discovery (default 3_000). Long enough to ride
   * out an etcd restart, where every worker vanishes until it re-registers; a sweep made in error costs the
   * worker one checkpoint interval, since removeWorker also drops its marker and it re-puts its entries.
   */
  sweepDelayMs?: number;
}

const DEFAULT_SWEEP_DELAY_MS = 3_000;

interface Route {
  itemIndex: number;
  worker: string;
  push: PushItem;
}

/**
 * Routes items to the workers that hold their receivers' connections. One registry lookup per call (callers
 * group a tick's requests into one call: the HTTP client, or InProcessDispatch in the all-in-one), then one
 * push per (item, worker) over each worker's stream, or straight to a worker that runs in this process.
 */
export class DispatchService implements Dispatch {
  private readonly links = new Map<string, PushLink>();
  private workers = new Map<string, WorkerNode>();
  private readonly sweeps = new Map<string, NodeJS.Timeout>(); // workers that left discovery, until swept
  /**
   * Workers that left discovery and are not swept yet, with their last address. They are still pushed to:
   * one frozen past its lease (or cut off from etcd) reads what was written to it when it wakes up, and
   * one that is dead fails fast. Dropping their pushes instead would lose them without anyone knowing.
   */
  private readonly vanished = new Map<string, WorkerNode>();
  private stopWatching: (() => void) | undefined;
  private stopCounting: (() => void) | undefined;
  private closed = false;
  private readonly linkContext: LinkContext;

  constructor(
    private readonly options: DispatchServiceOptions,
    private readonly registry: Registry,
    private readonly discovery: Discovery,
    private readonly logger: Logger,
    /** This dispatcher's id (named to workers in stream metadata) and its metrics. */
    private readonly observe: { dispatcherId?: string; metrics?: DispatcherMetrics } = {},
    /** Workers in this process (the all-in-one): their pushes skip gRPC; every other worker is over gRPC. */
    private readonly inProcess?: InProcessWorkers,
  ) {
    this.linkContext = { dispatcherId: observe.dispatcherId, metrics: observe.metrics?.shared };
  }

  async start(): Promise<void> {
    this.stopWatching = await this.discovery.watch('worker', (nodes) => this.onWorkers(nodes));
    this.stopCounting = this.observe.metrics?.shared.countStreams('dispatcher', () => {
      let open = 0;
      for (const link of this.links.values()) if (link.streaming) open++;
      return open;
    });
  }

  get workerCount(): number {
    return this.workers.size;
  }

  async dispatch(items: DispatchItem[]): Promise<DispatchResult[]> {
    // Only callers in this process get here after close (the HTTP server closed first): as unavailable as a
    // dispatcher that is gone, and no link is opened again.
    if (this.closed) throw new CourierError('unavailable', 'dispatcher is closed');
    const started = performance.now();
    const { metrics } = this.observe;
    const uids = [...new Set(items.flatMap((item) => item.uids))];
    const conns = uids.length > 0 ? await this.registry.lookup(uids) : new Map();
    const routes: Route[] = [];
    items.forEach((item, itemIndex) => {
      metrics?.received(item.kind);
      const frame = item.kind === 'close' ? '' : JSON.stringify(frameOf(item));
      const id = item.kind === 'message' ? item.message.id : '';
      for (const uid of item.uids) {
        const byWorker = new Map<string, string[]>();
        for (const [connId, info] of conns.get(uid) ?? []) {
          if (item.kind !== 'close' && connId === item.exclude) continue;
          if (item.kind === 'close' && item.conns && !item.conns.includes(connId)) continue;
          let list = byWorker.get(info.worker);
          if (!list) byWorker.set(info.worker, (list = []));
          list.push(connId);
        }
        for (const [worker, connIds] of byWorker) {
          const push: PushItem = { id, uid, conns: connIds, frame, ack: item.kind === 'message' };
          if (item.kind === 'close') push.close = { code: item.code, reason: item.reason };
          if (item.kind === 'message') push.ts = item.message.ts;
          if (item.requestId !== undefined) push.requestId = item.requestId;
          routes.push({ itemIndex, worker, push });
        }
      }
    });
    const results = items.map(() => ({ delivered: 0 }));
    const stale: ConnectionRef[] = [];
    const dead = new Map<string, Set<string>>(); // worker → uids routed to it
    await Promise.all(
      routes.map(async (route) => {
        const outcome = await this.pushWithRetry(route);
        if (outcome === 'dead') metrics?.outcome('dead_worker', route.push.conns.length);
        else if (!outcome) metrics?.outcome('failed', route.push.conns.length);
        else {
          metrics?.outcome('delivered', outcome.delivered);
          metrics?.outcome('missing', outcome.missing.length);
        }
        if (outcome === 'dead') {
          // A worker that left discovery a moment ago keeps its fields until its sweep: it may be back.
          if (this.sweeps.has(route.worker)) return;
          let uids = dead.get(route.worker);
          if (!uids) dead.set(route.worker, (uids = new Set()));
          uids.add(route.push.uid);
          return;
        }
        if (!outcome) return;
        (results[route.itemIndex] as DispatchResult).delivered += outcome.delivered;
        for (const connId of outcome.missing) stale.push({ uid: route.push.uid, connId });
      }),
    );
    // Lazy cleanup: fields that point at a dead worker or a closed connection are dropped when met.
    if (stale.length > 0) {
      this.registry
        .remove(stale)
        .catch((err: unknown) => this.logger.warn({ err: errorMessage(err) }, 'registry cleanup failed'));
    }
    for (const [worker, uids] of dead) {
      // removeWorker rather than remove: it also drops the worker's marker, so one alive after all re-puts.
      this.registry
        .removeWorker(worker, [...uids])
        .catch((err: unknown) =>
          this.logger.warn({ worker, err: errorMessage(err) }, 'registry cleanup of a dead worker failed'),
        );
    }
    metrics?.dispatched(items.length, started);
    if (this.logger.isLevelEnabled('debug')) {
      items.forEach((item, i) => {
        const id = item.kind === 'message' ? item.message.id : undefined;
        const delivered = results[i]?.delivered;
        this.logger.debug({ requestId: item.requestId, kind: item.kind, id, delivered }, 'dispatched');
      });
    }
    return results;
  }

  /**
   * Strategies so a message reaches its worker: push over the live stream; on failure re-resolve the worker in
   * discovery and retry once on a fresh stream; a worker no longer in discovery is dead and its fields stale.
   */
  private async pushWithRetry(
    route: Route,
  ): Promise<{ delivered: number; missing: string[] } | 'dead' | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const link = await this.linkFor(route.worker, attempt > 0);
      if (!link) return 'dead';
      try {
        return await link.push(route.push);
      } catch (err) {
        this.logger.warn({ worker: route.worker, attempt, err: errorMessage(err) }, 'push to worker failed');
        // A slow answer is not a lost push: the worker may have written the frame already, so pushing again
        // would deliver it twice exactly when the worker is overloaded. Only a broken stream is retried.
        if (err instanceof LinkError && err.code === 'timeout') return undefined;
        if (attempt === 0) this.dropLink(route.worker, link);
      }
    }
    return undefined;
  }

  private async linkFor(workerId: string, reresolve: boolean): Promise<PushLink | undefined> {
    if (reresolve || (!this.workers.has(workerId) && !this.vanished.has(workerId))) {
      // The watch may lag behind a worker that registered a moment ago: ask discovery before calling it dead.
      const fresh = await this.discovery.list('worker').catch(() => undefined);
      if (fresh) this.onWorkers(fresh);
    }
    const node = this.workers.get(workerId) ?? this.vanished.get(workerId);
    if (!node) return undefined;
    let link = this.links.get(workerId);
    if (!link || link.node.grpc !== node.grpc) {
      link?.close();
      link = this.inProcess?.has(workerId)
        ? new InProcessLink(node, this.inProcess)
        : new WorkerLink(node, this.options.pushTimeoutMs, this.logger, this.linkContext);
      this.links.set(workerId, link);
    }
    return link;
  }

  private dropLink(workerId: string, link: PushLink): void {
    if (this.links.get(workerId) === link) this.links.delete(workerId);
    link.close();
  }

  private onWorkers(nodes: WorkerNode[]): void {
    const before = this.workers;
    this.workers = new Map(nodes.map((n) => [n.id, n]));
    for (const [id, node] of before) {
      if (this.workers.has(id)) continue;
      this.vanished.set(id, node);
      this.scheduleSweep(id);
    }
    for (const id of this.workers.keys()) {
      this.vanished.delete(id);
      this.cancelSweep(id);
    }
    for (const [id, link] of this.links) {
      const node = this.workers.get(id) ?? this.vanished.get(id);
      if (!node || node.grpc !== link.node.grpc) this.dropLink(id, link);
    }
  }

  /**
   * A worker left discovery (lease expired or revoked): after sweepDelayMs, unless it came back, remove every
   * entry naming it with one SCAN. Rare, and every dispatcher does it; duplicates only find nothing left.
   */
  private scheduleSweep(workerId: string): void {
    if (this.closed || this.sweeps.has(workerId)) return;
    const timer = setTimeout(() => {
      this.sweep(workerId)
        .catch((err: unknown) =>
          this.logger.warn(
            { worker: workerId, err: errorMessage(err) },
            'sweeping a vanished worker failed; its fields are left to lazy cleanup and expiry',
          ),
        )
        .finally(() => {
          if (this.sweeps.get(workerId) !== timer) return;
          this.sweeps.delete(workerId);
          this.forgetVanished(workerId);
        });
    }, this.options.sweepDelayMs ?? DEFAULT_SWEEP_DELAY_MS);
    timer.unref();
    this.sweeps.set(workerId, timer);
  }

  /** Swept (or the sweep failed): pushes for it are dead from now on, its stream is closed. */
  private forgetVanished(workerId: string): void {
    if (!this.vanished.delete(workerId) || this.workers.has(workerId)) return;
    const link = this.links.get(workerId);
    if (link) this.dropLink(workerId, link);
  }

  private cancelSweep(workerId: string): void {
    clearTimeout(this.sweeps.get(workerId));
    this.sweeps.delete(workerId);
  }

  private async sweep(workerId: string): Promise<void> {
    // The watch may lag (or have resynced before the worker re-registered): etcd's answer now decides.
    const live = await this.discovery.list('worker');
    if (this.closed) return;
    if (live.some((n) => n.id === workerId)) return this.onWorkers(live); // back: do not forget its address
    const started = Date.now();
    const removed = await this.registry.removeWorker(workerId);
    // Every dispatcher sweeps; only the ones that found something say so at info.
    const level = removed > 0 ? 'info' : 'debug';
    this.logger[level]({ worker: workerId, removed, ms: Date.now() - started }, 'swept a vanished worker');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatching?.();
    this.stopCounting?.();
    for (const timer of this.sweeps.values()) clearTimeout(timer);
    this.sweeps.clear();
    this.vanished.clear();
    for (const [id, link] of this.links) this.dropLink(id, link);
  }
}

function frameOf(item: Exclude<DispatchItem, { kind: 'close' }>): ServerFrame {
  return item.kind === 'message' ? { type: 'message', message: item.message } : item.frame;
}
