import { randomUUID } from 'node:crypto';
import { toErrorBody } from '../errors.js';
import type { BusinessMetrics } from '../metrics/business-metrics.js';
import { ROLES, type Role } from '../protocol/message.js';
import type { HistoryPage } from '../store/store.js';
import type { Uplink, UplinkSend, UplinkSendResult } from '../worker/uplink.js';
import type { MessageService } from './message-service.js';
import type { ReadService } from './read-service.js';
import { parseOutgoingMessage } from './validate.js';

// What business does for a worker's clients. Workers in other processes reach it through the routes of
// uplink-api.ts; the all-in-one's worker calls it directly. Either way the same rules, errors and results
// apply: the worker authenticated the user, and business applies the same rules as for HTTP senders. The
// user's role travels in the connection id (`role:platform:nonce`).

function roleOf(conn: string): Role {
  const role = conn.slice(0, conn.indexOf(':'));
  return (ROLES as readonly string[]).includes(role) ? (role as Role) : 'customer';
}

/** A send as it reaches business: its message is validated here, whether it crossed HTTP or not. */
export type UplinkSendInput = Omit<UplinkSend, 'message'> & { message?: unknown };

export class UplinkService implements Uplink {
  constructor(
    private readonly messages: MessageService,
    private readonly reads: ReadService,
    private readonly metrics?: BusinessMetrics,
  ) {}

  /**
   * Never rejects: a refusal is the item's result. `requestId` is the uplink call's (its sends share it);
   * a call made in-process gets one of its own so its log lines can still be followed.
   */
  async send(req: UplinkSendInput, requestId: string = randomUUID()): Promise<UplinkSendResult> {
    try {
      const send = () => {
        const message = parseOutgoingMessage(req.message);
        const actor = { kind: 'user', uid: req.from, role: roleOf(req.conn) } as const;
        const input = { ...message, clientMsgId: req.clientMsgId };
        return this.messages.send(actor, input, req.conn, requestId);
      };
      const sent = await (this.metrics ? this.metrics.send('ws', send) : send());
      return { ok: true, message: sent.message };
    } catch (err) {
      return { ok: false, error: toErrorBody(err).body };
    }
  }

  /** Rejects with CourierError (not_found, forbidden) when the user may not read the conversation. */
  sync(req: { uid: string; conversation: string; after: number; limit: number }): Promise<HistoryPage> {
    const actor = { kind: 'user', uid: req.uid, role: 'customer' } as const;
    return this.messages.history(actor, req.conversation, req.after, req.limit);
  }

  async read(req: { uid: string; conversation: string; seq: number }): Promise<{ seq: number }> {
    const actor = { kind: 'user', uid: req.uid, role: 'customer' } as const;
    const stored = await this.reads.markRead(actor, req.conversation, req.uid, req.seq);
    return { seq: stored.seq };
  }
}
