import { TickBatcher } from '../batch/tick-batcher.js';
import type { Discovery } from '../discovery/discovery.js';
import { NodePool } from '../http/node-pool.js';
import type { Logger } from '../log/logger.js';
import type { HistoryPage } from '../store/store.js';
import type { Uplink, UplinkSend, UplinkSendResult } from './uplink.js';

/**
 * The worker's calls to business over HTTP. `send` frames from all of this worker's clients in one tick
 * travel as one request to a live business node.
 */
export class HttpUplink implements Uplink {
  private readonly pool: NodePool<'business'>;
  private readonly sends = new TickBatcher<UplinkSend, UplinkSendResult>(async (items) => {
    const body = await this.pool.post<{ results: UplinkSendResult[] }>('/internal/v1/uplink/send', { items });
    return body.results;
  });

  constructor(options: { key: string; timeoutMs: number }, discovery: Discovery, logger: Logger) {
    this.pool = new NodePool('business', options, discovery, logger);
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  send(req: UplinkSend): Promise<UplinkSendResult> {
    return this.sends.add(req);
  }

  sync(req: { uid: string; conversation: string; after: number; limit: number }): Promise<HistoryPage> {
    return this.pool.post('/internal/v1/uplink/sync', req);
  }

  read(req: { uid: string; conversation: string; seq: number }): Promise<{ seq: number }> {
    return this.pool.post('/internal/v1/uplink/read', req);
  }

  close(): void {
    this.pool.close();
  }
}
