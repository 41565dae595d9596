import type { Dispatch } from '../dispatcher/dispatch.js';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import type { Actor } from './message-service.js';

/** Read receipts: the read seq only moves forward, and the other members' devices get a `read` frame. */
export class ReadService {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatch,
    private readonly logger: Logger,
  ) {}

  async markRead(
    actor: Actor,
    conversation: string,
    uid: string,
    seq: number,
  ): Promise<{ conversation: string; uid: string; seq: number }> {
    if (actor.kind === 'user' && actor.uid !== uid)
      throw new CourierError('forbidden', 'a user token may only mark its own reads');
    const conv = await this.store.getConversation(conversation);
    if (!conv) throw new CourierError('not_found', `conversation ${conversation} does not exist`);
    if (!conv.members.includes(uid))
      throw new CourierError('forbidden', `${uid} is not a member of this conversation`);
    const stored = await this.store.markRead(conversation, uid, seq);
    const others = conv.members.filter((m) => m !== uid);
    if (others.length > 0) {
      this.dispatcher
        .dispatch([{ kind: 'event', frame: { type: 'read', conversation, uid, seq: stored }, uids: others }])
        .catch((err: unknown) =>
          this.logger.warn({ conversation, err: errorMessage(err) }, 'read receipt dispatch failed'),
        );
    }
    return { conversation, uid, seq: stored };
  }
}
