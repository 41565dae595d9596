import type { Express, Request } from 'express';
import { z } from 'zod';
import type { JwtTokens } from '../auth/tokens.js';
import { CourierError, toErrorBody } from '../errors.js';
import { route } from '../http/app.js';
import type { FastRoutes } from '../http/fast-routes.js';
import type { Logger } from '../log/logger.js';
import type { BusinessMetrics } from '../metrics/business-metrics.js';
import { ROLES, PLATFORM_PATTERN, UID_PATTERN } from '../protocol/message.js';
import type { GatewaySelector } from './gateway.js';
import type { HttpAuth } from './http-auth.js';
import type { MessageService, Sent } from './message-service.js';
import type { ReadService } from './read-service.js';
import { parseOrThrow, uidSchema } from './validate.js';

export interface BusinessApiDeps {
  auth: HttpAuth;
  messages: MessageService;
  reads: ReadService;
  tokens: JwtTokens;
  gateway: GatewaySelector;
  maxBatch: number;
  ready: () => Promise<{ ready: boolean; reason?: string }>;
  metrics: BusinessMetrics;
  logger: Logger;
}

/** An optional integer query parameter within [min, max]. */
export const int = (name: string, min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return fallback;
      const n = Number(v);
      if (!/^-?\d+$/.test(v) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}`, path: [] });
        return z.NEVER;
      }
      return n;
    })
    .describe(name);

const historyQuery = z
  .object({ after: int('after', 0, Number.MAX_SAFE_INTEGER, 0), limit: int('limit', 1, 500, 50) })
  .passthrough();
const tokenBody = z
  .object({
    uid: uidSchema,
    role: z.enum(ROLES),
    platform: z.string().regex(PLATFORM_PATTERN, 'must be 1–16 characters of a-z 0-9 _ -'),
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .max(30 * 86_400)
      .optional(),
  })
  .strict();
const readBody = z
  .object({ seq: z.number().int().nonnegative(), uid: z.string().regex(UID_PATTERN).optional() })
  .strict();

export function mountBusinessApi(app: Express, fast: FastRoutes, deps: BusinessApiDeps): void {
  const { auth, messages, metrics } = deps;

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(
    '/readyz',
    route(async (_req, res) => {
      const state = await deps.ready();
      res
        .status(state.ready ? 200 : 503)
        .json(state.ready ? { status: 'ready' } : { status: 'not_ready', reason: state.reason });
    }),
  );

  // The two routes every message takes are served on node:http (fast-routes.ts); answers are the same.
  fast.post('/v1/messages', async ({ req, res, body, requestId }) => {
    const actor = await auth.actor({ headers: req.headers, socket: req.socket, res });
    const sent = await metrics.send('http', () => messages.send(actor, body, undefined, requestId));
    return sent.result;
  });

  fast.post('/v1/messages/batch', async ({ req, res, body, requestId }) => {
    const actor = await auth.actor({ headers: req.headers, socket: req.socket, res });
    const batch = body as { messages?: unknown } | undefined;
    if (!batch || typeof batch !== 'object' || !Array.isArray(batch.messages)) {
      throw new CourierError('invalid_request', 'messages: required, an array of messages', 'messages');
    }
    if (batch.messages.length > deps.maxBatch) {
      throw new CourierError('too_large', `messages: at most ${deps.maxBatch} per batch`, 'messages');
    }
    deps.logger.info({ requestId, messages: batch.messages.length }, 'message batch received');
    const results = await sendBatch(batch.messages, (input) =>
      metrics.send('batch', () => messages.send(actor, input, undefined, requestId)),
    );
    return { results };
  });

  app.get(
    '/v1/conversations/:id/messages',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      const q = parseOrThrow(historyQuery, req.query);
      res.json(await messages.history(actor, param(req, 'id'), q.after, q.limit));
    }),
  );

  app.post(
    '/v1/conversations/:id/read',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      const body = parseOrThrow(readBody, req.body);
      const uid = actor.kind === 'user' ? actor.uid : body.uid;
      if (!uid) throw new CourierError('invalid_request', 'uid: required with an API key', 'uid');
      res.json(await deps.reads.markRead(actor, param(req, 'id'), uid, body.seq));
    }),
  );

  app.post(
    '/v1/tokens',
    route(async (req, res) => {
      await auth.service(req);
      const body = parseOrThrow(tokenBody, req.body);
      const { token, expiresAt } = await deps.tokens.sign(body, body.ttlSeconds);
      let gateway: string | null = null;
      try {
        gateway = deps.gateway.pick().ws;
      } catch {
        gateway = null; // no worker yet: the token is still valid, the client asks /v1/gateway later
      }
      res.json({ token, expiresAt, gateway });
    }),
  );

  app.get(
    '/v1/gateway',
    route(async (req, res) => {
      await auth.actor(req);
      res.json({ url: deps.gateway.pick().ws });
    }),
  );
}

export function param(req: Request, name: string): string {
  const value = req.params[name];
  if (!value) throw new CourierError('invalid_request', `${name}: required`, name);
  return value;
}

type BatchResult = Sent['result'] | { error: ReturnType<typeof toErrorBody>['body'] };

/**
 * Sends a batch: messages to the same target keep their order (and so their seq order), different targets
 * run concurrently so the store and the dispatcher see them as one group.
 */
export async function sendBatch(
  inputs: unknown[],
  send: (input: unknown) => Promise<Sent>,
): Promise<BatchResult[]> {
  const results: BatchResult[] = new Array(inputs.length);
  const lanes = new Map<string, number[]>();
  inputs.forEach((input, i) => {
    const m = (input ?? {}) as Record<string, unknown>;
    const key = JSON.stringify([m.from, m.to, m.merchant, m.conversation]);
    const lane = lanes.get(key);
    if (lane) lane.push(i);
    else lanes.set(key, [i]);
  });
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      for (const i of lane) {
        try {
          results[i] = (await send(inputs[i])).result;
        } catch (err) {
          results[i] = { error: toErrorBody(err).body };
        }
      }
    }),
  );
  return results;
}
