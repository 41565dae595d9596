import { randomBytes } from 'node:crypto';
import type { Dispatch } from '../dispatcher/dispatch.js';
import { CourierError, errorMessage } from '../errors.js';
import type { ContentFilter } from '../filter/filter.js';
import type { Logger } from '../log/logger.js';
import { directConversationId, type Message, type Role } from '../protocol/message.js';
import type { Sequencer } from '../sequencer/sequencer.js';
import {
  DuplicateClientMsgIdError,
  type Conversation,
  type HistoryPage,
  type Store,
} from '../store/store.js';
import type { CustomerService } from './customer-service.js';
import { Lru } from './lru.js';
import type { SendPolicy } from './send-policy.js';
import { parseSendRequest, targetOf, validateContent, type SendRequest, type Target } from './validate.js';

/** Who is calling: a server API key (may act for any uid) or a user token (acts only as itself). */
export type Actor = { kind: 'service' } | { kind: 'user'; uid: string; role: Role };

export interface SendResult {
  id: string;
  conversation: string;
  seq: number;
  ts: number;
  to: string[];
  filtered: boolean;
  delivered: number;
}

export interface Sent {
  result: SendResult;
  message: Message;
}

export interface MessageServiceOptions {
  maxMessageBytes: number;
}

/** The chat rules a message is checked against once its content is valid. */
export interface ChatRules {
  customerService: CustomerService;
  policy: SendPolicy;
}

/** Time-ordered, unique message ids: 12 hex digits of ms time + 10 random hex digits. */
export function newMessageId(now = Date.now()): string {
  return now.toString(16).padStart(12, '0') + randomHex10();
}

// Random bytes drawn from a pool: one getrandom call per 800 ids instead of one per message (it showed in
// profiles of the send path), with the same 40 random bits per id.
const POOL_BYTES = 4000;
let pool = Buffer.alloc(0);
let offset = POOL_BYTES;

function randomHex10(): string {
  if (offset + 5 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  offset += 5;
  return pool.toString('hex', offset - 5, offset);
}

/**
 * The rules every message goes through, whatever its ingress (HTTP, batch, WebSocket via a worker):
 * validate → filter → resolve the conversation (permissions, agent assignment) → seq → store durably →
 * dispatch → answer. The filter runs before the conversation is resolved so that a rejected message leaves
 * nothing behind: no conversation row, no agent assignment.
 */
export class MessageService {
  // Direct conversations never change members, so a hit here saves a store round trip per message.
  private readonly directs = new Lru<string, Conversation>(100_000);
  // The first result per (sender, clientMsgId), so a repeat answers exactly what the first call answered.
  private readonly results = new Lru<string, Sent>(100_000);
  private readonly inFlight = new Map<string, Promise<Sent>>();

  constructor(
    private readonly options: MessageServiceOptions,
    private readonly store: Store,
    private readonly sequencer: Sequencer,
    private readonly filter: ContentFilter,
    private readonly dispatcher: Dispatch,
    private readonly logger: Logger,
    private readonly rules: ChatRules,
  ) {}

  /**
   * Validates untrusted input and sends it. `origin` is the WebSocket connection that sent it, if any;
   * `requestId` (of the HTTP request that carried it) travels with the message to the dispatcher and worker.
   */
  async send(actor: Actor, input: unknown, origin?: string, requestId?: string): Promise<Sent> {
    const req = parseSendRequest(input);
    const from = this.senderOf(actor, req);
    const target = targetOf(req);
    const content = validateContent(req.type, req.content, this.options.maxMessageBytes);
    if (req.clientMsgId === undefined)
      return this.sendNew(actor, from, target, req, content, origin, requestId);

    const key = `${from}\u0000${req.clientMsgId}`;
    const known = this.results.get(key);
    if (known) return known;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.sendOnce(actor, key, from, target, req, content, origin, requestId).finally(() =>
        this.inFlight.delete(key),
      );
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async sendOnce(
    actor: Actor,
    key: string,
    from: string,
    target: Target,
    req: SendRequest,
    content: SendRequest['content'],
    origin?: string,
    requestId?: string,
  ): Promise<Sent> {
    const stored = await this.store.findByClientMsgId(from, req.clientMsgId as string);
    const sent = stored
      ? replay(stored)
      : await this.sendNew(actor, from, target, req, content, origin, requestId);
    this.results.set(key, sent);
    return sent;
  }

  private senderOf(actor: Actor, req: SendRequest): string {
    if (actor.kind === 'service') {
      if (req.from === undefined)
        throw new CourierError('invalid_request', 'from: required with an API key', 'from');
      return req.from;
    }
    if (req.from !== undefined && req.from !== actor.uid) {
      throw new CourierError('forbidden', 'a user token may only send as its own uid', 'from');
    }
    return actor.uid;
  }

  private async sendNew(
    actor: Actor,
    from: string,
    target: Target,
    req: SendRequest,
    content: SendRequest['content'],
    origin?: string,
    requestId?: string,
  ): Promise<Sent> {
    const outcome = this.filter.apply(req.type, content);
    if (outcome.action === 'reject') {
      throw new CourierError(
        'content_rejected',
        'the content contains words that are not allowed',
        'content',
      );
    }
    const conversation = await this.resolveConversation(actor, from, target);
    const seq = await this.sequencer.next(conversation.id);
    const message: Message = {
      id: newMessageId(),
      conversation: conversation.id,
      seq,
      from,
      to: conversation.members.filter((m) => m !== from),
      type: req.type,
      content: outcome.content,
      ts: Date.now(),
    };
    try {
      await this.store.append({ ...message, clientMsgId: req.clientMsgId });
    } catch (err) {
      // Two nodes raced on the same clientMsgId: the first stored wins and nothing is delivered twice.
      if (err instanceof DuplicateClientMsgIdError) return replay(err.existing);
      throw new CourierError(
        'unavailable',
        'the message could not be stored; retry with the same clientMsgId',
        undefined,
        { cause: err },
      );
    }
    this.logger.debug({ requestId, id: message.id, conversation: conversation.id, seq }, 'message stored');
    const delivered = await this.deliver(message, origin, requestId);
    return { message, result: resultOf(message, outcome.filtered, delivered) };
  }

  /** The receivers and the sender's other devices; the sending connection itself gets `sent` instead. */
  private async deliver(message: Message, origin?: string, requestId?: string): Promise<number> {
    try {
      const [result] = await this.dispatcher.dispatch([
        { kind: 'message', message, uids: [...message.to, message.from], exclude: origin, requestId },
      ]);
      return result?.delivered ?? 0;
    } catch (err) {
      // The message is durable: receivers that missed the push get it by sync when they next connect or see
      // the gap in seq. The sender is told how many connections got it now (none).
      this.logger.warn({ requestId, id: message.id, err: errorMessage(err) }, 'dispatch failed after store');
      return 0;
    }
  }

  private async resolveConversation(actor: Actor, from: string, target: Target): Promise<Conversation> {
    switch (target.kind) {
      case 'to': {
        if (target.uid === from)
          throw new CourierError('invalid_request', 'to: cannot send a message to yourself', 'to');
        const id = directConversationId(from, target.uid);
        const cached = this.directs.get(id);
        if (cached) return cached;
        await this.rules.policy.checkDirect(actor, from, target.uid);
        const conv = await this.store.ensureConversation({
          id,
          kind: 'direct',
          members: [from, target.uid].sort(),
        });
        this.directs.set(id, conv);
        return conv;
      }
      case 'conversation': {
        const conv = await this.store.getConversation(target.id);
        if (!conv)
          throw new CourierError('not_found', `conversation ${target.id} does not exist`, 'conversation');
        if (!conv.members.includes(from))
          throw new CourierError('forbidden', `${from} is not a member of this conversation`, 'conversation');
        if (conv.kind === 'customer_service') return this.rules.customerService.checkSend(conv, from);
        return conv;
      }
      case 'merchant':
        return this.rules.customerService.open(from, target.merchant);
    }
  }

  async history(actor: Actor, conversation: string, after: number, limit: number): Promise<HistoryPage> {
    const conv = await this.store.getConversation(conversation);
    if (!conv) throw new CourierError('not_found', `conversation ${conversation} does not exist`);
    if (actor.kind === 'user' && !conv.members.includes(actor.uid)) {
      throw new CourierError('forbidden', 'only members may read a conversation');
    }
    return this.store.history(conversation, after, limit);
  }
}

function resultOf(message: Message, filtered: boolean, delivered: number): SendResult {
  return {
    id: message.id,
    conversation: message.conversation,
    seq: message.seq,
    ts: message.ts,
    to: message.to,
    filtered,
    delivered,
  };
}

/** A repeat of a stored message: the same ids and seq, nothing delivered again. */
function replay(message: Message): Sent {
  return { message, result: resultOf(message, false, 0) };
}
