import { CourierError } from '../errors.js';
import type { Store } from '../store/store.js';
import { customerServiceId } from './assignment.js';
import type { Actor } from './message-service.js';

export interface SendPolicyOptions {
  openMessaging: boolean; // business.openMessaging: customers may write to anyone
}

/**
 * Who may start a direct conversation with whom. A customer's token may write to merchants (the `merchant`
 * target), to agents of a merchant it already talks to, and to users it already shares a conversation
 * with. Agents are the operator's staff and may write to anyone. API keys are the operator's own servers
 * (legacy systems notifying users, server-to-server): trusted, so their sends are never limited here.
 * Membership of an existing conversation is checked for everyone, API keys included (message-service.ts).
 */
export class SendPolicy {
  constructor(
    private readonly options: SendPolicyOptions,
    private readonly store: Store,
  ) {}

  /** True when `checkDirect` has anything to check for this actor (saves a store read otherwise). */
  limits(actor: Actor): boolean {
    return actor.kind === 'user' && actor.role === 'customer' && !this.options.openMessaging;
  }

  /** Throws 403 unless `from` may write to `to` directly; `to` is not yet known to be a conversation peer. */
  async checkDirect(actor: Actor, from: string, to: string): Promise<void> {
    if (!this.limits(actor)) return;
    if (await this.store.sharesConversation(from, to)) return;
    for (const merchant of await this.store.agentMerchants(to)) {
      if (await this.store.getConversation(customerServiceId(merchant, from))) return;
    }
    throw new CourierError(
      'forbidden',
      'to: a customer may only write to merchants, their agents, or users it already shares a conversation with',
      'to',
    );
  }
}
