import type { WordList } from '../filter/filter.js';
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

/** An agent of the pool with the number of open customer-service conversations assigned to them. */
export interface AgentLoad extends MerchantAgent {
  sessions: number;
}

export interface CustomerServiceRequest {
  /** The conversation id of this (merchant, customer), e.g. `cs:{merchant}:{customer}`. */
  id: string;
  merchant: string;
  customer: string;
  /** Conversations with no activity since this time (ms) no longer count toward an agent's load. */
  activeSince: number;
}

/**
 * Picks an agent from the merchant's pool (never empty, in uid order) for a new or orphaned conversation;
 * throws to refuse (the store then changes nothing).
 */
export type AgentChooser = (loads: AgentLoad[]) => string;

export interface Assignment {
  conversation: Conversation;
  /** True when this call created the conversation or gave it a new agent. */
  assigned: boolean;
  /** The agent it had before, when this call replaced one who left the pool. */
  previousAgent: string | null;
}

export interface StoredWordList extends WordList {
  version: number;
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
  /**
   * Number of customer-service conversations currently assigned to each of these agents; with
   * `activeSince`, only those with activity since then (ms).
   */
  openSessions(merchant: string, agents: string[], activeSince?: number): Promise<Map<string, number>>;
  /**
   * The customer-service conversation `req.id` with an agent of the merchant's current pool. When it is
   * missing, or its agent left the pool, `choose` picks one from the pool's loads and the conversation is
   * created or handed over. Serialised per merchant, also across nodes sharing the database, so the loads
   * `choose` sees are exact and concurrent first messages of a customer create one conversation.
   */
  assignCustomerService(req: CustomerServiceRequest, choose: AgentChooser): Promise<Assignment>;
  /** Merchants whose pool lists this uid. */
  agentMerchants(uid: string): Promise<string[]>;
  /** True when both uids are members of at least one common conversation. */
  sharesConversation(a: string, b: string): Promise<boolean>;

  /** The stored sensitive-word list, or undefined while none was ever stored. */
  getSensitiveWords(): Promise<StoredWordList | undefined>;
  /** Replaces the stored list; returns its new version. */
  setSensitiveWords(list: WordList): Promise<number>;
  /** Version of the stored list (0 when none): a cheap poll for changes made by other nodes. */
  sensitiveWordsVersion(): Promise<number>;

  /** True when the backend answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
