// What the dispatcher sends a worker over the long-lived gRPC bidi stream, and what comes back.
// One PushBatch carries every item the dispatcher had for that worker in one tick; the worker answers each
// batch with one PushBatchResult, results in item order.

export interface PushItem {
  /** Message id for `ack: true` items (the worker tracks the ACK under it); an event id otherwise. */
  id: string;
  uid: string;
  /** The receiver's connection ids held by this worker, per the registry. */
  conns: string[];
  /** The server frame, serialised once by the dispatcher and written as is to every connection. */
  frame: string;
  /** Track an ACK and resend on timeout (`message` frames); false for `read` and other events. */
  ack: boolean;
  /** Close these connections with this code instead of writing a frame (kick, ban). */
  close?: { code: number; reason: string };
  /** The message's timestamp (ms) for `message` frames: the start of the delivery latency the worker measures. */
  ts?: number;
  /** The request id of the business call that produced the item, so its log lines can be followed. */
  requestId?: string;
}

export interface PushBatch {
  batch: number;
  items: PushItem[];
}

export interface PushItemResult {
  /** Connections the frame was written to. */
  delivered: number;
  /** Connections named in `conns` that this worker does not hold (stale registry fields). */
  missing: string[];
}

export interface PushBatchResult {
  batch: number;
  results: PushItemResult[];
}

/** A worker's delivery of one batch: one result per item, in order (the gateway's deliverBatch). */
export type DeliverBatch = (items: PushItem[]) => PushItemResult[];
