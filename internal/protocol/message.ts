// The message shape of DESIGN §3, shared by every tier: answers, frames and history all carry it.

export const MESSAGE_TYPES = ['text', 'image', 'product', 'order', 'custom'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const ROLES = ['customer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** JSON value accepted as message content (a string, or an object parsed from JSON). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Message {
  id: string;
  conversation: string;
  seq: number;
  from: string;
  /** The receivers' uids at the time of sending (the conversation's other members). */
  to: string[];
  type: MessageType;
  content: Json;
  /** Milliseconds since the epoch, set by business when the message is accepted. */
  ts: number;
}

export type ConversationKind = 'direct' | 'customer_service' | 'group';

// uids, merchant ids and platforms end up inside Redis keys, registry field names and conversation ids,
// so they are kept to a charset that never needs escaping and never contains the ':' separator.
export const UID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
/** What UID_PATTERN allows, as every error about a bad uid or merchant id says it. */
export const UID_RULE = 'must be 1–64 characters of A-Z a-z 0-9 _ . @ -';
export const PLATFORM_PATTERN = /^[a-z0-9_-]{1,16}$/;

/** A direct conversation's id is derived from its two members so both sides find the same one. */
export function directConversationId(a: string, b: string): string {
  return a < b ? `d:${a}:${b}` : `d:${b}:${a}`;
}

/** Connection id as DESIGN §5 gives it: `role:platform:nonce`. */
export function connectionId(role: Role, platform: string, nonce: string): string {
  return `${role}:${platform}:${nonce}`;
}
