import * as grpc from '@grpc/grpc-js';
import type { PushBatch, PushBatchResult } from './push.js';

// The dispatcher → worker service: one bidi stream per (dispatcher, worker) pair, carrying batches both ways.
// The payload is JSON rather than protobuf: frames are JSON already and the items are few fields, so a
// schema compiler would add a build step without saving measurable CPU at these message sizes.

function decode<T>(what: string, check: (v: unknown) => v is T): (buf: Buffer) => T {
  return (buf) => {
    const value: unknown = JSON.parse(buf.toString('utf8'));
    if (!check(value)) throw new Error(`malformed ${what}`);
    return value;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const isBatch = (v: unknown): v is PushBatch =>
  isObject(v) && typeof v.batch === 'number' && Array.isArray(v.items);

const isResult = (v: unknown): v is PushBatchResult =>
  isObject(v) && typeof v.batch === 'number' && Array.isArray(v.results);

export const PUSH_STREAM_PATH = '/courier.v1.Push/Stream';
/** gRPC metadata key naming the dispatcher that opened a push stream (for the worker's logs). */
export const DISPATCHER_METADATA = 'x-courier-dispatcher';

export const pushServiceDefinition = {
  stream: {
    path: PUSH_STREAM_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: (batch: PushBatch) => Buffer.from(JSON.stringify(batch)),
    requestDeserialize: decode('push batch', isBatch),
    responseSerialize: (result: PushBatchResult) => Buffer.from(JSON.stringify(result)),
    responseDeserialize: decode('push result', isResult),
    originalName: 'stream',
  },
} satisfies grpc.ServiceDefinition;

export const PushClient = grpc.makeGenericClientConstructor(pushServiceDefinition, 'Push');

/** Channel options shared by both ends: large batches allowed, dead peers noticed by keepalive pings. */
export const channelOptions: grpc.ChannelOptions = {
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.max_pings_without_data': 0,
};
