import type { Express, Request } from 'express';
import { z } from 'zod';
import type { Ban, BanKind, Blacklist } from '../blacklist/blacklist.js';
import { canonicalIp } from '../blacklist/client-ip.js';
import type { Dispatch } from '../dispatcher/dispatch.js';
import { CourierError, errorMessage } from '../errors.js';
import { route } from '../http/app.js';
import type { Logger } from '../log/logger.js';
import { CloseCode } from '../protocol/frames.js';
import { UID_PATTERN, UID_RULE } from '../protocol/message.js';
import type { HttpAuth } from './http-auth.js';
import { MessageService, type Actor, type Sent } from './message-service.js';
import { parseOrThrow } from './validate.js';

// The operator's side of the blacklist (DESIGN §3), API key only:
//   PUT    /v1/blacklist/uids/{uid}, /v1/blacklist/ips/{ip}   {"ttlSeconds"?, "reason"?} → the ban
//   DELETE /v1/blacklist/uids/{uid}, /v1/blacklist/ips/{ip}   → {"id", "removed": true}, 404 if none
//   GET    /v1/blacklist?limit=N                              → {"uids": [...], "ips": [...]}
// A uid ban also closes the uid's live connections on every worker with 4003, through the dispatcher.

const MAX_TTL_SECONDS = 10 * 365 * 86_400; // "for good" is ten years; every ban has an expiry
const MAX_REASON_CHARS = 500;

const banBody = z
  .object({
    ttlSeconds: z.number().int().positive().max(MAX_TTL_SECONDS).optional(),
    reason: z.string().max(MAX_REASON_CHARS).optional(),
  })
  .strict();
const listQuery = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,5}$/, 'must be an integer from 1 to 10000')
      .transform(Number)
      .refine((n) => n >= 1 && n <= 10_000, 'must be an integer from 1 to 10000')
      .optional(),
  })
  .passthrough();

export interface BlacklistApiDeps {
  auth: HttpAuth;
  blacklist: Blacklist;
  dispatch: Dispatch;
  logger: Logger;
  defaultTtlSeconds: number; // a PUT without ttlSeconds bans for this long
}

export function mountBlacklistApi(app: Express, deps: BlacklistApiDeps): void {
  const { auth, blacklist } = deps;
  const paths: Record<BanKind, string> = { uid: '/v1/blacklist/uids/:id', ip: '/v1/blacklist/ips/:id' };

  for (const kind of ['uid', 'ip'] as const) {
    app.put(
      paths[kind],
      route(async (req, res) => {
        await auth.service(req);
        const id = subjectId(req, kind);
        const body = parseOrThrow(banBody, req.body ?? {});
        const ttlMs = (body.ttlSeconds ?? deps.defaultTtlSeconds) * 1000;
        const ban = await blacklist.ban(kind, id, ttlMs, body.reason ?? '');
        if (kind === 'ip') {
          // Live connections are indexed by uid, not IP: an IP ban turns away new connects and requests.
          res.json(publicBan(ban));
          return;
        }
        res.json({ ...publicBan(ban), closed: await closeLive(deps, id) });
      }),
    );

    app.delete(
      paths[kind],
      route(async (req, res) => {
        await auth.service(req);
        const id = subjectId(req, kind);
        if (!(await blacklist.unban(kind, id))) throw new CourierError('not_found', `${id} is not banned`);
        res.json({ id, removed: true });
      }),
    );
  }

  app.get(
    '/v1/blacklist',
    route(async (req, res) => {
      await auth.service(req);
      const { limit = 1_000 } = parseOrThrow(listQuery, req.query);
      const { uids, ips } = await blacklist.list(limit);
      res.json({ uids: uids.map(publicBan), ips: ips.map(publicBan) });
    }),
  );
}

/** Closes every connection of a freshly banned uid; the ban is already stored, so a retry is safe. */
async function closeLive(deps: BlacklistApiDeps, uid: string): Promise<number> {
  try {
    const [result] = await deps.dispatch.dispatch([
      { kind: 'close', uids: [uid], code: CloseCode.banned, reason: 'banned' },
    ]);
    return result?.delivered ?? 0;
  } catch (err) {
    deps.logger.warn({ uid, err: errorMessage(err) }, 'closing a banned uid’s connections failed');
    throw new CourierError(
      'unavailable',
      'the ban is stored but live connections could not be closed yet; retry the PUT',
      undefined,
      { cause: err },
    );
  }
}

function subjectId(req: Request, kind: BanKind): string {
  const raw = req.params.id ?? '';
  if (kind === 'uid') {
    if (!UID_PATTERN.test(raw)) {
      throw new CourierError('invalid_request', `uid: ${UID_RULE}`, 'uid');
    }
    return raw;
  }
  const ip = canonicalIp(raw);
  if (ip === null) throw new CourierError('invalid_request', 'ip: must be an IPv4 or IPv6 address', 'ip');
  return ip;
}

function publicBan({ id, reason, expiresAt, auto }: Ban) {
  return { id, reason, expiresAt, auto };
}

/**
 * The message rules plus "a banned uid does not send" (DESIGN §1.6), for the senders HttpAuth has not
 * already checked: the `from` of an API-key send, and WebSocket sends relayed by a worker (`origin` set),
 * which may race a ban that has not closed their connection yet.
 */
export class SenderBanCheck extends MessageService {
  constructor(
    private readonly blacklist: Blacklist | undefined,
    ...rest: ConstructorParameters<typeof MessageService>
  ) {
    super(...rest);
  }

  override async send(actor: Actor, input: unknown, origin?: string, requestId?: string): Promise<Sent> {
    const sender =
      actor.kind === 'service' ? declaredSender(input) : origin === undefined ? undefined : actor.uid;
    if (this.blacklist && sender !== undefined && (await this.blacklist.check({ uid: sender }))) {
      throw new CourierError(
        'blacklisted',
        'the sender is banned',
        actor.kind === 'service' ? 'from' : undefined,
      );
    }
    return super.send(actor, input, origin, requestId);
  }
}

/** `from` of an API-key send when it is a string; anything else is left for validation to refuse. */
function declaredSender(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const from = (input as { from?: unknown }).from;
  return typeof from === 'string' && UID_PATTERN.test(from) ? from : undefined;
}
