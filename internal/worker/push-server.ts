import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log/logger.js';
import type { SharedMetrics } from '../metrics/metrics.js';
import { channelOptions, DISPATCHER_METADATA, pushServiceDefinition } from '../rpc/push-service.js';
import type { DeliverBatch, PushBatch, PushBatchResult, PushItem, PushItemResult } from '../rpc/push.js';

/**
 * Delivers one batch for a push stream or, in the all-in-one, for a dispatcher in the same process. A delivery
 * bug must not break the stream (or the dispatch call) of every other message: the batch is then answered as
 * delivered nowhere.
 */
export function deliverSafely(
  deliver: DeliverBatch,
  items: PushItem[],
  logger: Logger,
  batch?: number,
): PushItemResult[] {
  try {
    return deliver(items);
  } catch (err) {
    logger.error({ err, batch }, 'push batch failed');
    return items.map((item) => ({ delivered: 0, missing: item.conns }));
  }
}

/** The worker's end of the push stream: every batch a dispatcher writes is delivered and answered. */
export class PushServer {
  private readonly server = new grpc.Server({
    ...channelOptions,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  private readonly streams = new Set<grpc.ServerDuplexStream<PushBatch, PushBatchResult>>();
  private readonly uncount: () => void;

  constructor(
    private readonly deliver: DeliverBatch,
    private readonly logger: Logger,
    private readonly metrics?: SharedMetrics,
  ) {
    this.uncount = metrics?.countStreams('worker', () => this.streams.size) ?? (() => undefined);
    this.server.addService(pushServiceDefinition, {
      stream: (call: grpc.ServerDuplexStream<PushBatch, PushBatchResult>) => this.onStream(call),
    });
  }

  /** Binds `host:port` (port 0 = free port) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      );
    });
  }

  private onStream(call: grpc.ServerDuplexStream<PushBatch, PushBatchResult>): void {
    this.streams.add(call);
    // The stream lives as long as the dispatcher does, so its metadata names the dispatcher; each item
    // carries the request id of the business call it came from.
    const dispatcher = String(call.metadata.get(DISPATCHER_METADATA)[0] ?? 'unknown');
    this.logger.info({ dispatcher, streams: this.streams.size }, 'push stream opened');
    call.on('data', (batch: PushBatch) => {
      this.metrics?.pushBatchItems.received.observe(batch.items.length);
      this.logger.debug({ dispatcher, batch: batch.batch, items: batch.items.length }, 'push batch');
      const results = deliverSafely(this.deliver, batch.items, this.logger, batch.batch);
      call.write({ batch: batch.batch, results });
    });
    call.on('error', (err) => this.logger.debug({ err }, 'push stream error'));
    call.on('end', () => call.end());
    call.on('close', () => {
      this.streams.delete(call);
      this.logger.info({ dispatcher, streams: this.streams.size }, 'push stream closed');
    });
  }

  /** Stops accepting streams and waits for open ones to finish, ending them after `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    this.uncount();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      for (const call of this.streams) call.end();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
