import type { DeliverBatch } from './push.js';

/**
 * The workers running in this process (the all-in-one), by id: a dispatcher in the same process hands their
 * pushes straight to their delivery instead of serialising them over a gRPC stream to itself. A worker that
 * stopped stays known here as stopped, so a push that stale registry entries still route to it fails like a
 * push to a dead worker in another process; starting a worker under that id again makes it live again.
 */
export class InProcessWorkers {
  private readonly workers = new Map<string, DeliverBatch | undefined>(); // undefined: stopped

  /** Makes `id` reachable in-process; the returned function marks it stopped (the worker's close). */
  attach(id: string, deliver: DeliverBatch): () => void {
    this.workers.set(id, deliver);
    return () => {
      // A worker restarted under the same id has attached its own delivery: leave that one alone.
      if (this.workers.get(id) === deliver) this.workers.set(id, undefined);
    };
  }

  /** True for every worker started in this process under `id`, running or stopped. */
  has(id: string): boolean {
    return this.workers.has(id);
  }

  /** The running worker's delivery; undefined once it stopped (or when it never ran here). */
  deliverer(id: string): DeliverBatch | undefined {
    return this.workers.get(id);
  }
}
