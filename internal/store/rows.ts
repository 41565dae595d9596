// Conversions between table rows and the domain types of store.ts. Rows are parsed with guards: a row that
// does not match the schema is reported with its key instead of leaking a malformed object to callers.
import { CourierError } from '../errors.js';
import { MESSAGE_TYPES, type ConversationKind, type Json, type Message } from '../protocol/message.js';
import type { Conversation } from './store.js';
import type { ConversationsTable, MessagesTable } from './schema.js';

const KINDS: readonly ConversationKind[] = ['direct', 'customer_service', 'group'];

class CorruptRowError extends Error {
  override readonly name = 'CorruptRowError';
  readonly code = 'corrupt_row';
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CorruptRowError(`${what} is not valid JSON`, { cause: err });
  }
}

function parseUids(text: string, what: string): string[] {
  const value = parseJson(text, what);
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new CorruptRowError(`${what} is not an array of uids`);
  }
  return value;
}

/** mysql2 may hand BIGINT back as a string when it exceeds 2^53; our values never do. */
const num = (v: number | string | bigint): number => Number(v);

export function messageToRow(m: Message & { clientMsgId?: string | undefined }): MessagesTable {
  return {
    id: m.id,
    conversation: m.conversation,
    seq: m.seq,
    sender: m.from,
    receivers: JSON.stringify(m.to),
    type: m.type,
    content: JSON.stringify(m.content),
    client_msg_id: m.clientMsgId ?? null,
    created_at: m.ts,
  };
}

export function rowToMessage(row: Omit<MessagesTable, 'client_msg_id'>): Message {
  const what = `message ${row.id}`;
  const type = MESSAGE_TYPES.find((t) => t === row.type);
  if (!type) throw new CorruptRowError(`${what} has unknown type ${row.type}`);
  return {
    id: row.id,
    conversation: row.conversation,
    seq: num(row.seq),
    from: row.sender,
    to: parseUids(row.receivers, `${what} receivers`),
    type,
    content: parseJson(row.content, `${what} content`) as Json,
    ts: num(row.created_at),
  };
}

type JoinedColumns = 'id' | 'sender' | 'receivers' | 'type' | 'content' | 'created_at';

/** The last message of a conversation list row, whose `msg_*` columns come from a LEFT JOIN. */
export function joinedLastMessage(
  row: { [K in JoinedColumns as `msg_${K}`]: MessagesTable[K] | null },
  conversation: Conversation,
): Message | null {
  const { msg_id, msg_sender, msg_receivers, msg_type, msg_content, msg_created_at } = row;
  // No row while last_seq is 0, or when its message was stored without a conversation row first.
  if (msg_id === null || msg_sender === null || msg_receivers === null || msg_type === null) return null;
  if (msg_content === null || msg_created_at === null) return null;
  return rowToMessage({
    id: msg_id,
    conversation: conversation.id,
    seq: conversation.lastSeq,
    sender: msg_sender,
    receivers: msg_receivers,
    type: msg_type,
    content: msg_content,
    created_at: msg_created_at,
  });
}

export function rowToConversation(row: ConversationsTable): Conversation {
  const what = `conversation ${row.id}`;
  const kind = KINDS.find((k) => k === row.kind);
  if (!kind) throw new CorruptRowError(`${what} has unknown kind ${row.kind}`);
  return {
    id: row.id,
    kind,
    members: parseUids(row.members, `${what} members`),
    merchant: row.merchant,
    agent: row.agent,
    lastSeq: num(row.last_seq),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

/** Position in a user's conversation list: the last item of a page, sorted by (updatedAt, id) descending. */
export interface ListCursor {
  updatedAt: number;
  id: string;
}

export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id])).toString('base64url');
}

/** Cursors come back from clients, so a malformed one is an invalid request naming the `cursor` field. */
export function decodeCursor(cursor: string): ListCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (err) {
    throw new CourierError('invalid_request', 'cursor is not one this server returned', 'cursor', {
      cause: err,
    });
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string'
  ) {
    return { updatedAt: value[0] as number, id: value[1] };
  }
  throw new CourierError('invalid_request', 'cursor is not one this server returned', 'cursor');
}
