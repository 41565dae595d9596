import type { Express } from 'express';
import { z } from 'zod';
import { route } from '../http/app.js';
import type { FastRoutes } from '../http/fast-routes.js';
import type { InternalAuth } from '../http/internal-auth.js';
import { UID_PATTERN } from '../protocol/message.js';
import type { UplinkService } from './uplink-service.js';
import { parseOrThrow } from './validate.js';

// The endpoints a worker in another process calls for its clients: each body is checked for shape here, then
// handed to the UplinkService, which the all-in-one's worker calls directly.

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

export function mountUplinkApi(
  app: Express,
  fast: FastRoutes,
  auth: InternalAuth,
  uplink: UplinkService,
): void {
  // Every WebSocket send travels this route (one call per worker tick): served on node:http.
  fast.post('/internal/v1/uplink/send', async ({ req, body, requestId }) => {
    auth.check(req.headers.authorization);
    const { items } = parseOrThrow(sendBody, body);
    // One uplink call carries the sends of a worker's tick; they share the call's request id. The message
    // itself is validated by the service, as for an in-process call, so its errors name `message.…` fields.
    const results = await Promise.all(items.map((item) => uplink.send(item, requestId)));
    return { results };
  });

  app.post(
    '/internal/v1/uplink/sync',
    auth.middleware,
    route(async (req, res) => {
      res.json(await uplink.sync(parseOrThrow(syncBody, req.body)));
    }),
  );

  app.post(
    '/internal/v1/uplink/read',
    auth.middleware,
    route(async (req, res) => {
      res.json(await uplink.read(parseOrThrow(readBody, req.body)));
    }),
  );
}
