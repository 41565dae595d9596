import type { WorkerNode } from '../discovery/discovery.js';
import type { InProcessWorkers } from '../rpc/in-process-workers.js';
import type { PushItem, PushItemResult } from '../rpc/push.js';
import { LinkError, type PushLink } from './worker-link.js';

/**
 * The dispatcher's link to a worker in the same process (the all-in-one): each push is handed to the worker's
 * delivery as it comes, with no frame to serialise, no stream and no timeout, since delivery is synchronous.
 * Once the worker stopped, pushes fail as they would on a broken stream to a dead worker elsewhere.
 */
export class InProcessLink implements PushLink {
  readonly streaming = false; // nothing crosses a stream: courier_push_streams counts only gRPC ones
  private closed = false;

  constructor(
    readonly node: WorkerNode,
    private readonly workers: InProcessWorkers,
  ) {}

  async push(item: PushItem): Promise<PushItemResult> {
    if (this.closed) throw new LinkError('closed', `link to ${this.node.id} is closed`);
    // Looked up per push: a worker restarted under the same id is reached without a new link.
    const deliver = this.workers.deliverer(this.node.id);
    if (!deliver) throw new LinkError('stream_failed', `worker ${this.node.id} in this process stopped`);
    const [result] = deliver([item]);
    if (!result) throw new LinkError('stream_failed', `worker ${this.node.id} answered nothing`);
    return result;
  }

  close(): void {
    this.closed = true;
  }
}
