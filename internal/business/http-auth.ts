import type { Request } from 'express';
import type { ApiKeys } from '../auth/tokens.js';
import type { TokenVerifier } from '../auth/claims.js';
import { CourierError } from '../errors.js';
import type { Actor } from './message-service.js';

/** Resolves the caller of a public endpoint from `Authorization: Bearer <API key | user token>`. */
export class HttpAuth {
  constructor(
    private readonly apiKeys: ApiKeys,
    private readonly tokens: TokenVerifier,
  ) {}

  async actor(req: Request): Promise<Actor> {
    const header = req.get('authorization');
    if (!header) throw new CourierError('unauthorized', 'missing Authorization: Bearer <API key or token>');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new CourierError('unauthorized', 'Authorization must be "Bearer <API key or token>"');
    const credential = match[1] as string;
    if (this.apiKeys.has(credential)) return { kind: 'service' };
    const claims = await this.tokens.verify(credential);
    return { kind: 'user', uid: claims.uid, role: claims.role };
  }

  async service(req: Request): Promise<void> {
    const actor = await this.actor(req);
    if (actor.kind !== 'service') throw new CourierError('forbidden', 'this endpoint needs a server API key');
  }
}
