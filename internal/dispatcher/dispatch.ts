import type { ServerFrame } from '../protocol/frames.js';
import type { Message } from '../protocol/message.js';

// What business asks a dispatcher to do (POST /internal/v1/dispatch), typed end to end.

// Every item may carry `requestId`, the id of the business request that produced it: items of many
// requests travel in one dispatch call, so each carries its own, and the dispatcher and the worker log it.
export type DispatchItem =
  /** A stored message for every connection of these uids; must be ACKed by each. */
  | { kind: 'message'; message: Message; uids: string[]; exclude?: string; requestId?: string }
  /** A frame that needs no ACK (e.g. `read`). */
  | { kind: 'event'; frame: ServerFrame; uids: string[]; exclude?: string; requestId?: string }
  /** Close connections of these uids (all of them, or only `conns`) with a close code (kick, ban). */
  | { kind: 'close'; uids: string[]; conns?: string[]; code: number; reason: string; requestId?: string };

export interface DispatchResult {
  /** Connections the frame was handed to (or closed, for `close`). */
  delivered: number;
}

export interface Dispatch {
  dispatch(items: DispatchItem[]): Promise<DispatchResult[]>;
}
