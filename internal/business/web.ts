import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Response } from 'express';
import { z } from 'zod';
import type { JwtTokens } from '../auth/tokens.js';
import { CourierError } from '../errors.js';
import { route } from '../http/app.js';
import type { Logger } from '../log/logger.js';
import { ROLES } from '../protocol/message.js';
import { parseOrThrow, uidSchema } from './validate.js';

// The demo web pages (web/, bundled into dist/web by `npm run build`): `/` landing, `/shop` shopper,
// `/agent` agent console, `/assets/*` scripts, styles and images. With `business.demoLogin` the pages get
// user tokens from POST /demo/token, so they never hold an API key; that endpoint hands a token for any uid
// to anyone, which is why it is off unless the config turns it on (configs/courier.yaml does, for npm start).

export interface WebOptions {
  demoLogin: boolean;
  /** The seeded demo merchants (business.seed.merchants), offered on the sign-in forms. */
  demoMerchants: readonly { id: string; agents: readonly { uid: string }[] }[];
  /** The bundled pages; default dist/web beside this compiled file. */
  root?: string;
}

const PAGES = { '/': 'index.html', '/shop': 'shop.html', '/agent': 'agent.html' } as const;

// The pages load only their own scripts, styles and images. WebSockets go to workers on other ports or
// hosts (GET /v1/gateway decides), so ws:/wss: stay open; every other request must stay on this origin.
const CSP = pagePolicy({ connect: "'self' ws: wss:", formAction: "'self'" });

/** The Content-Security-Policy of courier's own pages: only their own scripts, styles and images. */
export function pagePolicy({ connect, formAction }: { connect: string; formAction: string }): string {
  return [
    "default-src 'self'",
    `connect-src ${connect}`,
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action ${formAction}`,
  ].join('; ');
}

const demoTokenBody = z
  .object({
    uid: uidSchema,
    role: z.enum(ROLES),
  })
  .strict();

export function mountWeb(
  app: Express,
  options: WebOptions,
  deps: { tokens: JwtTokens; logger: Logger },
): void {
  const root = options.root ?? fileURLToPath(new URL('../../web/', import.meta.url));
  const built = existsSync(join(root, 'index.html'));
  if (!built) deps.logger.warn({ root }, 'web pages are not built (npm run build): / answers 503');

  const page = (file: string) => (_req: unknown, res: Response) => {
    if (!built) {
      res.status(503).type('text/plain').send('The web pages are not built: run `npm run build`.\n');
      return;
    }
    res.set({
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.set('cache-control', 'no-cache');
    res.sendFile(join(root, file));
  };
  for (const [path, file] of Object.entries(PAGES)) app.get(path, page(file));
  // Asset names carry no content hash, so browsers revalidate (max-age=0) instead of caching a stale bundle.
  app.use('/assets', express.static(join(root, 'assets'), { index: false, maxAge: 0 }));

  if (!options.demoLogin) return;
  deps.logger.warn('business.demoLogin is on: POST /demo/token gives anyone a token for any uid (demo only)');
  app.get('/demo/info', (_req, res) => {
    res.json({
      merchants: options.demoMerchants.map((m) => ({
        id: m.id,
        name: m.id,
        agents: m.agents.map((a) => a.uid),
      })),
    });
  });
  app.post(
    '/demo/token',
    route(async (req, res) => {
      if (!req.is('application/json'))
        throw new CourierError('invalid_request', 'send JSON: {"uid", "role"}');
      const body = parseOrThrow(demoTokenBody, req.body);
      res.json(await deps.tokens.sign({ uid: body.uid, role: body.role, platform: 'web' }));
    }),
  );
}
