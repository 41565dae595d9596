import type { ErrorBody } from '../errors.js';
import type { OutgoingMessage } from '../protocol/frames.js';
import type { Message } from '../protocol/message.js';
import type { HistoryPage } from '../store/store.js';

// What a worker asks of the business tier on behalf of a connected client. The worker never touches the
// store: `send` goes through exactly the rules an HTTP message goes through.

export interface UplinkSend {
  from: string;
  /** The sending connection, so the sender's other devices get the message but this one gets `sent`. */
  conn: string;
  clientMsgId: string;
  message: OutgoingMessage;
}

export type UplinkSendResult = { ok: true; message: Message } | { ok: false; error: ErrorBody };

export interface Uplink {
  send(req: UplinkSend): Promise<UplinkSendResult>;
  /** Rejects with CourierError (e.g. forbidden, not_found) when the user may not read the conversation. */
  sync(req: { uid: string; conversation: string; after: number; limit: number }): Promise<HistoryPage>;
  /** Moves the user's read seq forward; resolves with the stored read seq. */
  read(req: { uid: string; conversation: string; seq: number }): Promise<{ seq: number }>;
}
