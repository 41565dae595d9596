import type { Discovery, WorkerNode } from '../discovery/discovery.js';
import { CourierError } from '../errors.js';

/** Picks the least-loaded live worker for `GET /v1/gateway`, from the connection counts workers publish. */
export class GatewaySelector {
  private workers: WorkerNode[] = [];
  private turn = 0;
  private stopWatching: (() => void) | undefined;

  constructor(private readonly discovery: Discovery) {}

  async start(): Promise<void> {
    this.stopWatching = await this.discovery.watch('worker', (nodes) => {
      this.workers = nodes;
    });
  }

  pick(): WorkerNode {
    if (this.workers.length === 0) throw new CourierError('unavailable', 'no worker is available');
    const least = Math.min(...this.workers.map((w) => w.conns));
    const tied = this.workers.filter((w) => w.conns === least);
    // Published counts lag behind reality, so rotate among equals instead of sending a burst to one worker.
    return tied[this.turn++ % tied.length] as WorkerNode;
  }

  close(): void {
    this.stopWatching?.();
  }
}
