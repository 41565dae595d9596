import type { ConversationKind, Message } from '../protocol/message.js';

// Durable state of the business tier (DESIGN §6). Read diffusion: a message is stored once, in its
// conversation; members keep a read seq and unread = last seq − read seq.

export interface Conversation {
  id: string;
  kind: ConversationKind;
  members: string[];
  /** Merchant id for customer-service conversations, else null. */
  merchant: string | null;
  /** Assigned agent uid for customer-service conversations, else null. */
  agent: string | null;
  lastSeq: number;
  createdAt: number;
  updatedAt: number;
}

export interface NewConversation {
  id: string;
  kind: ConversationKind;
  members: string[];
  merchant?: string | null;
  agent?: string | null;
}

export interface NewMessage extends Message {
  /** The sender's idempotency key; unique per sender when present. */
  clientMsgId?: string | undefined;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

export interface ConversationSummary {
  conversation: Conversation;
  lastMessage: Message | null;
  readSeq: number;
  unread: number;
}

export interface ConversationPage {
  items: ConversationSummary[];
  /** Opaque cursor for the next page, or null at the end. */
  next: string | null;
}

export interface MerchantAgent {
  uid: string;
  maxSessions: number;
}

/** Thrown by `append` when the sender already stored a message under this clientMsgId. */
export class DuplicateClientMsgIdError extends Error {
  override readonly name = 'DuplicateClientMsgIdError';
  readonly code = 'duplicate_client_msg_id';
  constructor(
    readonly existing: Message,
    options?: { cause?: unknown },
  ) {
    super(`clientMsgId already used by message ${existing.id}`, options);
  }
}

export interface Store {
  /** Creates or upgrades the schema; safe to run on every start-up and from several nodes. */
  migrate(): Promise<void>;

  /** Creates the conversation and its member rows if missing; returns the stored conversation. */
  ensureConversation(conv: NewConversation): Promise<Conversation>;
  getConversation(id: string): Promise<Conversation | undefined>;
  /** Replaces the agent of a customer-service conversation and its agent membership. */
  setAgent(conversation: string, agent: string): Promise<Conversation>;

  /**
   * Stores a message durably and moves its conversation's last seq forward. Concurrent calls are grouped
   * into one multi-row insert (group commit); each resolves once its own row is committed. Rejects with
   * DuplicateClientMsgIdError when (from, clientMsgId) exists.
   */
  append(message: NewMessage): Promise<void>;
  findByClientMsgId(sender: string, clientMsgId: string): Promise<Message | undefined>;
  /** Messages with seq > after, in seq order. */
  history(conversation: string, after: number, limit: number): Promise<HistoryPage>;
  lastSeq(conversation: string): Promise<number>;

  /** A user's conversations, most recently active first. */
  listConversations(uid: string, limit: number, cursor: string | null): Promise<ConversationPage>;
  /** Moves a member's read seq forward (never back, never past last seq); returns the read seq now stored. */
  markRead(conversation: string, uid: string, seq: number): Promise<number>;

  setMerchantAgents(merchant: string, agents: MerchantAgent[]): Promise<void>;
  getMerchantAgents(merchant: string): Promise<MerchantAgent[]>;
  /** Number of customer-service conversations currently assigned to each of these agents. */
  openSessions(merchant: string, agents: string[]): Promise<Map<string, number>>;

  /** True when the backend answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
