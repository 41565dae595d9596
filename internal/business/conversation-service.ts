import { CourierError } from '../errors.js';
import type { Message } from '../protocol/message.js';
import type { Registry } from '../registry/registry.js';
import type { Conversation, ConversationSummary, Store } from '../store/store.js';
import type { Actor } from './message-service.js';

/** An entry of `GET /v1/users/{uid}/conversations` (DESIGN §3). */
export interface ConversationView {
  id: string;
  kind: Conversation['kind'];
  /** Who the user talks to: the other member of a direct conversation, the customer for the agent of a
   * customer-service one; null for the customer (who talks to `merchant`) and for groups. */
  peer: string | null;
  merchant: string | null;
  lastMessage: Message | null;
  unread: number;
  updatedAt: number;
}

export interface Device {
  connId: string;
  role: string;
  platform: string;
  since: number;
}

/** A user's conversation list and presence, each visible to the user, to API keys, and (presence) to peers. */
export class ConversationService {
  constructor(
    private readonly store: Store,
    private readonly registry: Registry,
  ) {}

  async list(
    actor: Actor,
    uid: string,
    limit: number,
    cursor: string | null,
  ): Promise<{ conversations: ConversationView[]; next: string | null }> {
    if (actor.kind === 'user' && actor.uid !== uid) {
      throw new CourierError('forbidden', 'a user token may only list its own conversations');
    }
    const page = await this.store.listConversations(uid, limit, cursor);
    return { conversations: page.items.map((item) => view(item, uid)), next: page.next };
  }

  /** Live devices of `uid`; a user token sees its own and those of users it shares a conversation with. */
  async presence(actor: Actor, uid: string): Promise<{ devices: Device[] }> {
    if (
      actor.kind === 'user' &&
      actor.uid !== uid &&
      !(await this.store.sharesConversation(actor.uid, uid))
    ) {
      throw new CourierError('forbidden', 'presence is visible only to users who share a conversation');
    }
    const conns = (await this.registry.lookup([uid])).get(uid) ?? new Map();
    const devices = [...conns].map(([connId, info]) => ({
      connId,
      role: info.role,
      platform: info.platform,
      since: info.since,
    }));
    return { devices: devices.sort((a, b) => a.since - b.since || (a.connId < b.connId ? -1 : 1)) };
  }
}

function view({ conversation: c, lastMessage, unread }: ConversationSummary, uid: string): ConversationView {
  let peer: string | null = null;
  if (c.kind === 'direct') peer = c.members.find((m) => m !== uid) ?? null;
  else if (c.kind === 'customer_service' && c.agent === uid) peer = c.members.find((m) => m !== uid) ?? null;
  return {
    id: c.id,
    kind: c.kind,
    peer,
    merchant: c.merchant,
    lastMessage,
    unread,
    updatedAt: c.updatedAt,
  };
}
