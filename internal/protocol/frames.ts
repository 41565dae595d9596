import type { Json, Message, MessageType } from './message.js';

// WebSocket frames of DESIGN §4: one JSON object per text frame, discriminated by `type`.

export type ServerFrame =
  | { type: 'welcome'; connId: string; uid: string; heartbeat: number; worker: string }
  | { type: 'message'; message: Message }
  | { type: 'sent'; clientMsgId: string; message: Message }
  | { type: 'sync'; conversation: string; messages: Message[]; hasMore: boolean }
  | { type: 'read'; conversation: string; uid: string; seq: number }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string; ref?: string };

/** The body of a `send` frame's `message`: exactly one target, a type and content (validated by business). */
export interface OutgoingMessage {
  to?: string;
  merchant?: string;
  conversation?: string;
  type: MessageType;
  content: Json;
}

export type ClientFrame =
  | { type: 'ack'; ids: string[] }
  | { type: 'send'; clientMsgId: string; message: OutgoingMessage }
  | { type: 'sync'; conversation: string; after: number; limit: number }
  | { type: 'read'; conversation: string; seq: number }
  | { type: 'ping' };

/** WebSocket close codes of DESIGN §4. */
export const CloseCode = {
  tokenExpired: 4001,
  banned: 4003,
  ackRetriesExhausted: 4008,
  protocolError: 4009,
  frameTooLarge: 1009,
  draining: 1012,
} as const;
