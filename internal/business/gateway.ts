import type { Discovery, WorkerNode } from '../discovery/discovery.js';
import { CourierError } from '../errors.js';

// A client given a worker's URL connects within a second or two, and the worker's next published count (every
// 2 s while it changes) includes it. A tally older than this counts clients that never came: kept, it would
// make a worker look loaded, or full, until its count next changes, which on a quiet worker may be never.
const HANDED_OUT_TTL_MS = 10_000;

/**
 * Picks the least-loaded live worker for `GET /v1/gateway`. Workers publish their connection counts every few
 * seconds; between two publications this node adds the clients it sent to each worker itself, so a burst of
 * connects spreads over the workers instead of all landing on the one that looked lightest a moment ago
 * (measured: one worker at 42 % CPU taking every open while 59 idled, opens capped near 700/s).
 * A worker whose load so counted reaches its cap (`maxConns`, known in-process only) is skipped: it would answer the
 * upgrade with 503 anyway.
 */
export class GatewaySelector {
  private workers: WorkerNode[] = [];
  /** Clients handed to each worker since its last published count, and when the first of them was. */
  private readonly handedOut = new Map<string, { count: number; since: number }>();
  private turn = 0;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly discovery: Discovery,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    this.stopWatching = await this.discovery.watch('worker', (nodes) => {
      const before = new Map(this.workers.map((w) => [w.id, w.conns]));
      for (const node of nodes) {
        // A new count includes the clients handed out before it; a vanished worker's tally goes with it.
        if (before.get(node.id) !== node.conns) this.handedOut.delete(node.id);
      }
      for (const id of this.handedOut.keys()) if (!nodes.some((n) => n.id === id)) this.handedOut.delete(id);
      this.workers = nodes;
    });
  }

  pick(): WorkerNode {
    const { workers } = this;
    if (workers.length === 0) throw new CourierError('unavailable', 'no worker is available');
    const now = this.now();
    let best: WorkerNode | undefined;
    let bestLoad = Infinity;
    // Start the scan at a rotating offset so equal loads take turns.
    const start = this.turn++ % workers.length;
    for (let i = 0; i < workers.length; i++) {
      const w = workers[(start + i) % workers.length] as WorkerNode;
      const load = w.conns + this.handedOutTo(w.id, now);
      if (w.maxConns !== undefined && load >= w.maxConns) continue; // full
      if (load < bestLoad) {
        best = w;
        bestLoad = load;
      }
    }
    if (!best) throw new CourierError('unavailable', `every worker is full (${workers.length} workers)`);
    const tally = this.handedOut.get(best.id);
    if (tally) tally.count++;
    else this.handedOut.set(best.id, { count: 1, since: now });
    return best;
  }

  private handedOutTo(id: string, now: number): number {
    const tally = this.handedOut.get(id);
    if (!tally) return 0;
    if (now - tally.since <= HANDED_OUT_TTL_MS) return tally.count;
    this.handedOut.delete(id);
    return 0;
  }

  close(): void {
    this.stopWatching?.();
  }
}
