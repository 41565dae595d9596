import { TickBatcher } from '../batch/tick-batcher.js';
import type { Discovery } from '../discovery/discovery.js';
import type { Dispatch, DispatchItem, DispatchResult } from '../dispatcher/dispatch.js';
import { NodePool } from '../http/node-pool.js';
import type { Logger } from '../log/logger.js';

/** Business's side of the business → dispatcher hop: one HTTP request per tick to a live dispatcher. */
export class DispatchClient implements Dispatch {
  private readonly pool: NodePool<'dispatcher'>;
  private readonly batcher = new TickBatcher<DispatchItem, DispatchResult>(async (items) => {
    // Each item carries its own request id; the call itself is named after them when they all share one.
    const first = items[0]?.requestId;
    const shared = items.every((item) => item.requestId === first) ? first : undefined;
    this.logger.debug({ requestId: shared, items: items.length }, 'dispatch call');
    const body = await this.pool.post<{ results: DispatchResult[] }>(
      '/internal/v1/dispatch',
      { items },
      shared,
    );
    return body.results;
  });

  constructor(
    options: { key: string; timeoutMs: number },
    discovery: Discovery,
    private readonly logger: Logger,
  ) {
    this.pool = new NodePool('dispatcher', options, discovery, logger);
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  get available(): number {
    return this.pool.size;
  }

  dispatch(items: DispatchItem[]): Promise<DispatchResult[]> {
    return Promise.all(items.map((item) => this.batcher.add(item)));
  }

  close(): void {
    this.pool.close();
  }
}
