import * as grpc from '@grpc/grpc-js';
import { TickBatcher } from '../batch/tick-batcher.js';
import type { WorkerNode } from '../discovery/discovery.js';
import type { Logger } from '../log/logger.js';
import type { SharedMetrics } from '../metrics/metrics.js';
import { channelOptions, DISPATCHER_METADATA, PushClient } from '../rpc/push-service.js';
import type { PushBatch, PushBatchResult, PushItem, PushItemResult } from '../rpc/push.js';

export class LinkError extends Error {
  override readonly name = 'LinkError';
  constructor(
    readonly code: 'stream_failed' | 'timeout' | 'closed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type PushStream = grpc.ClientDuplexStream<PushBatch, PushBatchResult>;

/** Who opens the stream (sent as gRPC metadata, for the worker's logs) and where batch sizes are counted. */
export interface LinkContext {
  dispatcherId?: string;
  metrics?: SharedMetrics;
}

/** The dispatcher's way to one worker: a gRPC stream (WorkerLink), or a call in the same process (InProcessLink). */
export interface PushLink {
  readonly node: WorkerNode;
  /** True while a stream to the worker is open (counted in courier_push_streams). */
  readonly streaming: boolean;
  /** The worker's answer for the item; rejects with LinkError when the worker could not be reached. */
  push(item: PushItem): Promise<PushItemResult>;
  close(): void;
}

interface InFlight {
  resolve: (results: PushItemResult[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The dispatcher's long-lived stream to one worker. Items pushed in the same tick travel as one batch (one
 * gRPC message, one write), so throughput grows with load instead of paying a call per message.
 */
export class WorkerLink implements PushLink {
  private readonly client: grpc.Client & { stream(metadata?: grpc.Metadata): PushStream };
  private stream: PushStream | undefined;
  private nextBatch = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly batcher = new TickBatcher<PushItem, PushItemResult>((items) => this.send(items));
  private closed = false;

  constructor(
    readonly node: WorkerNode,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly context: LinkContext = {},
  ) {
    const client = new PushClient(node.grpc, grpc.credentials.createInsecure(), channelOptions);
    this.client = client as unknown as typeof this.client;
  }

  /** True while a stream to the worker is open. */
  get streaming(): boolean {
    return this.stream !== undefined;
  }

  push(item: PushItem): Promise<PushItemResult> {
    if (this.closed) return Promise.reject(new LinkError('closed', `link to ${this.node.id} is closed`));
    return this.batcher.add(item);
  }

  private send(items: PushItem[]): Promise<PushItemResult[]> {
    if (this.closed) return Promise.reject(new LinkError('closed', `link to ${this.node.id} is closed`));
    const batch = this.nextBatch++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inFlight.delete(batch);
        reject(
          new LinkError(
            'timeout',
            `worker ${this.node.id} did not answer batch ${batch} in ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      this.inFlight.set(batch, { resolve, reject, timer });
      this.context.metrics?.pushBatchItems.sent.observe(items.length);
      this.openStream().write({ batch, items });
    });
  }

  private openStream(): PushStream {
    if (this.stream) return this.stream;
    const metadata = new grpc.Metadata();
    if (this.context.dispatcherId) metadata.set(DISPATCHER_METADATA, this.context.dispatcherId);
    const stream = this.client.stream(metadata);
    this.stream = stream;
    stream.on('data', (result: PushBatchResult) => {
      const entry = this.inFlight.get(result.batch);
      if (!entry) return; // answered after its timeout; the caller has moved on
      this.inFlight.delete(result.batch);
      clearTimeout(entry.timer);
      entry.resolve(result.results);
    });
    const fail = (err?: Error) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      this.failInFlight(
        new LinkError('stream_failed', `stream to worker ${this.node.id} ended`, { cause: err }),
      );
    };
    stream.on('error', (err) => {
      this.logger.warn({ worker: this.node.id, err: err.message }, 'push stream failed');
      fail(err);
    });
    stream.on('end', () => fail());
    return stream;
  }

  private failInFlight(err: LinkError): void {
    for (const [batch, entry] of this.inFlight) {
      clearTimeout(entry.timer);
      this.inFlight.delete(batch);
      entry.reject(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failInFlight(new LinkError('closed', `link to ${this.node.id} closed`));
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}
