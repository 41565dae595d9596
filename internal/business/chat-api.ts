import type { Express } from 'express';
import { z } from 'zod';
import { CourierError } from '../errors.js';
import { FILTER_MODES } from '../filter/filter.js';
import { MAX_WORD_LENGTH, wordProblem } from '../filter/sensitive-word-filter.js';
import { route } from '../http/app.js';
import { UID_PATTERN, UID_RULE } from '../protocol/message.js';
import type { ConversationService } from './conversation-service.js';
import type { CustomerService } from './customer-service.js';
import { int, param } from './http-api.js';
import type { HttpAuth } from './http-auth.js';
import type { SensitiveWords } from './sensitive-words-service.js';
import { parseOrThrow, uidSchema as uid } from './validate.js';

// The chat-rule endpoints of DESIGN §3: merchant agent pools, transfer, conversation lists, presence and
// the sensitive-word list. Who may call what is decided in the services; this file only maps HTTP.

export interface ChatApiDeps {
  auth: HttpAuth;
  customerService: CustomerService;
  conversations: ConversationService;
  sensitiveWords: SensitiveWords;
}

const MAX_AGENTS = 1_000; // per merchant
const MAX_WORDS = 100_000; // per list: a few MB of JSON at most

const agentsBody = z
  .object({
    agents: z
      .array(z.object({ uid, maxSessions: z.number().int().min(1).max(100_000) }).strict())
      .max(MAX_AGENTS)
      .superRefine((agents, ctx) => {
        const seen = new Set<string>();
        agents.forEach((a, i) => {
          if (seen.has(a.uid)) ctx.addIssue({ code: 'custom', message: 'is listed twice', path: [i, 'uid'] });
          seen.add(a.uid);
        });
      }),
  })
  .strict();
const transferBody = z.object({ agent: uid }).strict();
const listQuery = z
  .object({ limit: int('limit', 1, 100, 20), cursor: z.string().min(1).max(512).optional() })
  .passthrough();
const wordsBody = z
  .object({
    words: z
      .array(z.string().max(MAX_WORD_LENGTH * 4))
      .max(MAX_WORDS)
      .transform((words) => words.map((w) => w.trim()))
      .superRefine((words, ctx) => {
        words.forEach((w, i) => {
          const problem = wordProblem(w);
          if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [i] });
        });
      }),
    mode: z.enum(FILTER_MODES).optional(),
  })
  .strict();

function checkId(value: string, name: string): string {
  if (!UID_PATTERN.test(value)) {
    throw new CourierError('invalid_request', `${name}: ${UID_RULE}`, name);
  }
  return value;
}

export function mountChatApi(app: Express, deps: ChatApiDeps): void {
  const { auth, customerService, conversations, sensitiveWords } = deps;

  app.put(
    '/v1/merchants/:id/agents',
    route(async (req, res) => {
      await auth.service(req);
      const merchant = checkId(param(req, 'id'), 'id');
      const body = parseOrThrow(agentsBody, req.body);
      res.json({ agents: await customerService.setAgents(merchant, body.agents) });
    }),
  );

  app.get(
    '/v1/merchants/:id/agents',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      const merchant = checkId(param(req, 'id'), 'id');
      res.json({ agents: await customerService.agents(actor, merchant) });
    }),
  );

  app.post(
    '/v1/conversations/:id/transfer',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      const body = parseOrThrow(transferBody, req.body);
      const c = await customerService.transfer(actor, param(req, 'id'), body.agent);
      res.json({
        id: c.id,
        kind: c.kind,
        merchant: c.merchant,
        agent: c.agent,
        members: c.members,
        lastSeq: c.lastSeq,
        updatedAt: c.updatedAt,
      });
    }),
  );

  app.get(
    '/v1/users/:uid/conversations',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      const q = parseOrThrow(listQuery, req.query);
      const user = checkId(param(req, 'uid'), 'uid');
      res.json(await conversations.list(actor, user, q.limit, q.cursor ?? null));
    }),
  );

  app.get(
    '/v1/users/:uid/presence',
    route(async (req, res) => {
      const actor = await auth.actor(req);
      res.json(await conversations.presence(actor, checkId(param(req, 'uid'), 'uid')));
    }),
  );

  // The list is the operator's: readers could learn what to misspell, so both ways need an API key.
  app.get(
    '/v1/sensitive-words',
    route(async (req, res) => {
      await auth.service(req);
      res.json(sensitiveWords.get());
    }),
  );

  app.put(
    '/v1/sensitive-words',
    route(async (req, res) => {
      await auth.service(req);
      const body = parseOrThrow(wordsBody, req.body);
      const words = [...new Set(body.words)];
      res.json(await sensitiveWords.put({ words, mode: body.mode ?? sensitiveWords.get().mode }));
    }),
  );
}
