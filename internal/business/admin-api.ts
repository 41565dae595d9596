import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express, Request } from 'express';
import { z } from 'zod';
import type { ApiKeys } from '../auth/tokens.js';
import type { Dispatch } from '../dispatcher/dispatch.js';
import { CourierError } from '../errors.js';
import { route } from '../http/app.js';
import type { Logger } from '../log/logger.js';
import { CloseCode } from '../protocol/frames.js';
import { UID_PATTERN } from '../protocol/message.js';
import type { Registry } from '../registry/registry.js';
import type { ClusterView } from './cluster-view.js';
import { param } from './http-api.js';
import { parseOrThrow, uidSchema } from './validate.js';
import { pagePolicy } from './web.js';

// The operator's dashboard (issue 8): the page at /admin (bundled from web/admin.ts), and its API behind an
// admin key (auth.adminKeys, `Authorization: Bearer <key>`):
//   GET  /admin/v1/cluster              → nodes of every role with uptime and connections, recent traffic
//   GET  /admin/v1/users/{uid}/devices  → the uid's connections as the registry holds them
//   POST /admin/v1/kick {uid, connId}   → closes that connection with 4003 → {"closed": n}
// Bans and the sensitive-word list are the public API's (/v1/blacklist, /v1/sensitive-words), which accept
// an admin key as well as a server API key.

// The page talks to its own origin only: no WebSocket, no other host.
const CSP = pagePolicy({ connect: "'self'", formAction: "'none'" });

const kickBody = z
  .object({
    uid: uidSchema,
    connId: z.string().min(1).max(200),
  })
  .strict();

export interface AdminDeps {
  adminKeys: ApiKeys;
  cluster: ClusterView;
  registry: Registry;
  dispatch: Dispatch;
  logger: Logger;
  /** The bundled pages; default dist/web beside this compiled file. */
  root?: string;
}

export function mountAdmin(app: Express, deps: AdminDeps): void {
  const root = deps.root ?? fileURLToPath(new URL('../../web/', import.meta.url));
  const page = join(root, 'admin.html');
  const built = existsSync(page);
  const admin = (req: Request) => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match || !deps.adminKeys.has(match[1] as string)) {
      throw new CourierError('unauthorized', 'an admin key is required (auth.adminKeys)');
    }
  };

  app.get('/admin', (_req, res) => {
    if (!built) {
      res.status(503).type('text/plain').send('The admin page is not built: run `npm run build`.\n');
      return;
    }
    res.set({
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    res.sendFile(page);
  });

  app.get(
    '/admin/v1/cluster',
    route(async (req, res) => {
      admin(req);
      res.json(await deps.cluster.view());
    }),
  );

  app.get(
    '/admin/v1/users/:uid/devices',
    route(async (req, res) => {
      admin(req);
      const uid = param(req, 'uid');
      if (!UID_PATTERN.test(uid)) throw new CourierError('invalid_request', 'uid: not a valid uid', 'uid');
      const conns = (await deps.registry.lookup([uid])).get(uid) ?? new Map();
      const devices = [...conns].map(([connId, info]) => ({ connId, ...info }));
      res.json({ uid, devices: devices.sort((a, b) => a.since - b.since) });
    }),
  );

  app.post(
    '/admin/v1/kick',
    route(async (req, res) => {
      admin(req);
      const body = parseOrThrow(kickBody, req.body);
      const [result] = await deps.dispatch.dispatch([
        {
          kind: 'close',
          uids: [body.uid],
          conns: [body.connId],
          code: CloseCode.banned, // 4003: banned or kicked (DESIGN §4)
          reason: 'kicked',
          requestId: res.locals.requestId as string,
        },
      ]);
      const closed = result?.delivered ?? 0;
      deps.logger.info({ uid: body.uid, connId: body.connId, closed }, 'admin kicked a connection');
      res.json({ closed });
    }),
  );
}
