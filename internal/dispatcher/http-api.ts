import { z } from 'zod';
import { fromZodError } from '../business/validate.js';
import { CourierError } from '../errors.js';
import type { FastRoutes } from '../http/fast-routes.js';
import type { InternalAuth } from '../http/internal-auth.js';
import type { Dispatch, DispatchItem } from './dispatch.js';

// Business nodes are trusted, but a malformed body from a version mismatch must be refused clearly, not
// half-dispatched; so the shape is checked, while message contents (validated by business) are not.
const uids = z.array(z.string()).max(10_000);
const requestId = z.string().max(64).optional(); // the business request the item came from, for logs
const itemSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('message'),
    message: z.object({ id: z.string() }).passthrough(),
    uids,
    exclude: z.string().optional(),
    requestId,
  }),
  z.object({
    kind: z.literal('event'),
    frame: z.object({ type: z.string() }).passthrough(),
    uids,
    exclude: z.string().optional(),
    requestId,
  }),
  z.object({
    kind: z.literal('close'),
    uids,
    conns: z.array(z.string()).optional(),
    code: z.number().int(),
    reason: z.string(),
    requestId,
  }),
]);
const bodySchema = z.object({ items: z.array(itemSchema).max(10_000) });

export function mountDispatchApi(
  fast: FastRoutes,
  dispatch: Dispatch,
  auth: InternalAuth,
  isDraining: () => boolean,
): void {
  // Every message crosses this route (one call per business tick): served on node:http.
  fast.post('/internal/v1/dispatch', async ({ req, body }) => {
    auth.check(req.headers.authorization);
    if (isDraining()) throw new CourierError('unavailable', 'dispatcher is draining');
    const parsed = bodySchema.safeParse(body);
    if (!parsed.success) throw fromZodError(parsed.error);
    return { results: await dispatch.dispatch(parsed.data.items as DispatchItem[]) };
  });
}
