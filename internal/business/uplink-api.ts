import type { Express } from 'express';
import { z } from 'zod';
import { toErrorBody } from '../errors.js';
import { route } from '../http/app.js';
import type { FastRoutes } from '../http/fast-routes.js';
import type { InternalAuth } from '../http/internal-auth.js';
import type { BusinessMetrics } from '../metrics/business-metrics.js';
import { ROLES, UID_PATTERN, type Role } from '../protocol/message.js';
import type { UplinkSendResult } from '../worker/uplink.js';
import type { MessageService } from './message-service.js';
import type { ReadService } from './read-service.js';
import { outgoingMessageSchema, parseOrThrow } from './validate.js';

// Endpoints a worker calls for its clients. The worker authenticated the user; business applies the same
// rules as for HTTP senders. The user's role travels in the connection id (`role:platform:nonce`).

const uid = z.string().regex(UID_PATTERN);
const sendItem = z
  .object({ from: uid, conn: z.string().min(3).max(200), clientMsgId: z.string(), message: z.unknown() })
  .strict();
const sendBody = z.object({ items: z.array(sendItem).max(10_000) }).strict();
const syncBody = z
  .object({
    uid,
    conversation: z.string().min(1),
    after: z.number().int().nonnegative(),
    limit: z.number().int().min(1).max(500),
  })
  .strict();
const readBody = z
  .object({ uid, conversation: z.string().min(1), seq: z.number().int().nonnegative() })
  .strict();

function roleOf(conn: string): Role {
  const role = conn.slice(0, conn.indexOf(':'));
  return (ROLES as readonly string[]).includes(role) ? (role as Role) : 'customer';
}

export function mountUplinkApi(
  app: Express,
  fast: FastRoutes,
  auth: InternalAuth,
  messages: MessageService,
  reads: ReadService,
  metrics?: BusinessMetrics,
): void {
  // Every WebSocket send travels this route (one call per worker tick): served on node:http.
  fast.post('/internal/v1/uplink/send', async ({ req, body, requestId }) => {
    auth.check(req.headers.authorization);
    const { items } = parseOrThrow(sendBody, body);
    // One uplink call carries the sends of a worker's tick; they share the call's request id.
    const results = await Promise.all(
      items.map(async (item): Promise<UplinkSendResult> => {
        try {
          const send = () => {
            const message = parseOrThrow(outgoingMessageSchema, item.message, ['message']);
            const actor = { kind: 'user', uid: item.from, role: roleOf(item.conn) } as const;
            const input = { ...message, clientMsgId: item.clientMsgId };
            return messages.send(actor, input, item.conn, requestId);
          };
          const sent = await (metrics ? metrics.send('ws', send) : send());
          return { ok: true, message: sent.message };
        } catch (err) {
          return { ok: false, error: toErrorBody(err).body };
        }
      }),
    );
    return { results };
  });

  app.post(
    '/internal/v1/uplink/sync',
    auth.middleware,
    route(async (req, res) => {
      const body = parseOrThrow(syncBody, req.body);
      const actor = { kind: 'user', uid: body.uid, role: 'customer' } as const;
      res.json(await messages.history(actor, body.conversation, body.after, body.limit));
    }),
  );

  app.post(
    '/internal/v1/uplink/read',
    auth.middleware,
    route(async (req, res) => {
      const body = parseOrThrow(readBody, req.body);
      const actor = { kind: 'user', uid: body.uid, role: 'customer' } as const;
      const stored = await reads.markRead(actor, body.conversation, body.uid, body.seq);
      res.json({ seq: stored.seq });
    }),
  );
}
