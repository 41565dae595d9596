import type { Message } from '../protocol/message.js';
import type { FetchLike } from './api.js';
import type { BackoffOptions } from './backoff.js';
import type { Clock } from './clock.js';
import type { CourierClientError } from './errors.js';
import type { Pace, WebSocketConstructor } from './socket.js';
import type { TokenInfo, TokenRefresher } from './token.js';

// The client's public types: its options (with defaults and units) and its events.

export interface CourierClientOptions {
  baseUrl: string; // the business HTTP API, e.g. http://localhost:8080
  token: TokenInfo | string;
  refreshToken?: TokenRefresher; // called ahead of expiry and when the server says the token expired
  WebSocket?: WebSocketConstructor; // Node: the `ws` package's WebSocket; browsers: the global one
  fetch?: FetchLike; // default: the global fetch
  clock?: Clock;
  random?: () => number; // in [0, 1), for jitter
  reconnect?: BackoffOptions; // delays between failed connects (default 500 ms doubling to 30 s, jittered)
  drainJitterMs?: number; // reconnect delay after 1012 is random in [0, this) (default 250)
  refreshBeforeMs?: number; // refresh the token this long before it expires (default 60_000)
  gapTimeoutMs?: number; // hold messages after a seq hole this long before emitting around it (default 3_000)
  sendTimeoutMs?: number; // resend a send frame after this long without `sent` (default 10_000)
  syncLimit?: number; // messages per sync page (default 200, at most 500)
  fromStart?: boolean; // a conversation seen first mid-way is synced from seq 1 (default true)
  framePace?: Pace; // client frames per second and burst (default 50/s, 100): under the worker's cap
  rememberIds?: number; // message ids kept for dropping duplicates (default 10_000)
  onListenerError?: (err: unknown) => void; // what an event listener threw (default console.error)
}

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
export type Target = { to: string } | { merchant: string } | { conversation: string };
export interface ReadReceipt {
  conversation: string;
  uid: string;
  seq: number;
}

export interface ClientEvents {
  /** Every message of every conversation once, in seq order per conversation; `clientMsgId` on own sends. */
  message: [message: Message, info: { clientMsgId?: string }];
  read: [receipt: ReadReceipt];
  state: [state: ClientState];
  error: [error: CourierClientError];
}
