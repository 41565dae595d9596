import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../registry/registry.js';
import type { Conversation, MerchantAgent, Store } from '../store/store.js';
import { customerServiceId, pickAgent } from './assignment.js';
import type { Actor } from './message-service.js';

export interface CustomerServiceOptions {
  sessionIdleMs: number; // 0 = every assigned conversation counts toward maxSessions
}

/**
 * Customer-service conversations: a customer's first message to a merchant assigns an agent (sticky after),
 * an agent who left the pool is replaced on the customer's next message, and a conversation can be handed
 * to another agent of the merchant. Customers see only the agent assigned to them.
 */
export class CustomerService {
  private readonly turns = new Map<string, number>(); // round-robin position per merchant

  constructor(
    private readonly options: CustomerServiceOptions,
    private readonly store: Store,
    private readonly registry: Registry,
    private readonly logger: Logger,
  ) {}

  /** The conversation a customer's message to `merchant` goes into; assigns an agent when it has none. */
  async open(customer: string, merchant: string): Promise<Conversation> {
    const id = customerServiceId(merchant, customer);
    const [existing, pool] = await Promise.all([
      this.store.getConversation(id),
      this.store.getMerchantAgents(merchant),
    ]);
    if (pool.length === 0) {
      throw new CourierError('not_found', `merchant ${merchant} has no customer service`, 'merchant');
    }
    if (pool.some((a) => a.uid === customer)) {
      throw new CourierError(
        'forbidden',
        `an agent of merchant ${merchant} cannot write to it as a customer`,
        'merchant',
      );
    }
    if (existing?.agent && pool.some((a) => a.uid === existing.agent)) return existing; // sticky
    return this.assign(id, merchant, customer, pool);
  }

  /**
   * Checks a message into an existing customer-service conversation. The agent must still be in the pool;
   * the customer's message gets a new agent when theirs has left it.
   */
  async checkSend(conversation: Conversation, from: string): Promise<Conversation> {
    const { merchant, agent } = conversation;
    if (merchant === null) return conversation;
    const pool = await this.store.getMerchantAgents(merchant);
    const inPool = (uid: string | null) => uid !== null && pool.some((a) => a.uid === uid);
    if (from === agent) {
      if (inPool(from)) return conversation;
      throw new CourierError(
        'forbidden',
        `${from} is no longer an agent of merchant ${merchant}`,
        'conversation',
      );
    }
    if (inPool(agent)) return conversation;
    if (pool.length === 0) {
      throw new CourierError('not_found', `merchant ${merchant} has no customer service`, 'conversation');
    }
    return this.assign(conversation.id, merchant, from, pool);
  }

  private async assign(
    id: string,
    merchant: string,
    customer: string,
    pool: MerchantAgent[],
  ): Promise<Conversation> {
    // Presence is read before the store's transaction: no network call while the merchant's lock is held.
    const online = await this.online(pool.map((a) => a.uid));
    const idle = this.options.sessionIdleMs;
    const activeSince = idle > 0 ? Date.now() - idle : 0;
    const result = await this.store.assignCustomerService(
      { id, merchant, customer, activeSince },
      (loads) => {
        if (loads.length === 0) {
          throw new CourierError('not_found', `merchant ${merchant} has no customer service`, 'merchant');
        }
        const turn = this.turns.get(merchant) ?? 0;
        const agent = pickAgent(loads, online, turn);
        if (agent === null) {
          throw new CourierError(
            'unavailable',
            `every agent of merchant ${merchant} is at maxSessions; retry later`,
            'merchant',
          );
        }
        this.turns.set(merchant, turn + 1);
        return agent;
      },
    );
    if (result.assigned) {
      const { agent } = result.conversation;
      this.logger.info({ conversation: id, agent, previous: result.previousAgent }, 'agent assigned');
    }
    return result.conversation;
  }

  /** Uids of the pool with a live connection; nobody when the registry cannot answer (assignment goes on). */
  private async online(uids: string[]): Promise<Set<string>> {
    try {
      return new Set((await this.registry.lookup(uids)).keys());
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'registry lookup failed; assigning as if all offline');
      return new Set();
    }
  }

  /** Hands a customer-service conversation to another agent of its merchant (API key or its agent). */
  async transfer(actor: Actor, id: string, agent: string): Promise<Conversation> {
    const conversation = await this.store.getConversation(id);
    if (!conversation) throw new CourierError('not_found', `conversation ${id} does not exist`);
    if (conversation.kind !== 'customer_service' || conversation.merchant === null) {
      throw new CourierError('invalid_request', `conversation ${id} is not a customer-service conversation`);
    }
    if (actor.kind === 'user' && actor.uid !== conversation.agent) {
      throw new CourierError('forbidden', 'only the assigned agent (or an API key) may transfer it');
    }
    const pool = await this.store.getMerchantAgents(conversation.merchant);
    if (!pool.some((a) => a.uid === agent)) {
      throw new CourierError(
        'invalid_request',
        `agent: ${agent} is not an agent of merchant ${conversation.merchant}`,
        'agent',
      );
    }
    const moved = await this.store.setAgent(id, agent);
    this.logger.info({ conversation: id, agent, previous: conversation.agent }, 'conversation transferred');
    return moved;
  }

  async setAgents(merchant: string, agents: MerchantAgent[]): Promise<MerchantAgent[]> {
    await this.store.setMerchantAgents(merchant, agents);
    return this.store.getMerchantAgents(merchant);
  }

  /** The pool, for API keys and the merchant's own agents: customers never see agent uids this way. */
  async agents(actor: Actor, merchant: string): Promise<MerchantAgent[]> {
    const pool = await this.store.getMerchantAgents(merchant);
    if (actor.kind === 'user' && !pool.some((a) => a.uid === actor.uid)) {
      throw new CourierError('forbidden', `only agents of merchant ${merchant} may see its agents`);
    }
    return pool;
  }

  /** Seeds pools from config for merchants that have none in the store (run-time changes win). */
  async seed(merchants: readonly { id: string; agents: MerchantAgent[] }[]): Promise<void> {
    for (const m of merchants) {
      if ((await this.store.getMerchantAgents(m.id)).length > 0) continue;
      await this.store.setMerchantAgents(m.id, m.agents);
      this.logger.info({ merchant: m.id, agents: m.agents.length }, 'merchant agents seeded');
    }
  }
}
