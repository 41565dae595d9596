import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ApiKeys } from '../auth/tokens.js';
import type { TokenVerifier } from '../auth/claims.js';
import type { Blacklist } from '../blacklist/blacklist.js';
import { ClientIp } from '../blacklist/client-ip.js';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RateLimiter, RateVerdict } from '../ratelimit/rate-limiter.js';
import type { Actor } from './message-service.js';

/** What authentication reads of a request: an Express request, or a plain node:http one (fast routes). */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined };
  /** Where Retry-After goes when a rate limit refuses the request. */
  res?: { setHeader(name: string, value: string): unknown } | undefined;
}

/** Token buckets of the public API (DESIGN §3); a missing one means no limit. */
export interface HttpRateLimits {
  apiKey?: RateLimiter | undefined; // per server API key
  user?: RateLimiter | undefined; // per uid of a user token
}

export interface HttpAuthGuards {
  blacklist?: Blacklist | undefined;
  limits?: HttpRateLimits | undefined;
  /** Client address behind trusted proxies; the socket's peer when absent. */
  clientIp?: ClientIp | undefined;
  logger?: Logger | undefined;
  /** auth.adminKeys: the operator's dashboard keys, which act as server API keys here (bans, word list). */
  adminKeys?: ApiKeys | undefined;
}

/**
 * Resolves the caller of a public endpoint from `Authorization: Bearer <API key | user token>`, and turns
 * away the callers that may not be served: 403 `blacklisted` for a user token whose uid or IP is banned,
 * 429 `rate_limited` with Retry-After when the key's or the uid's bucket is empty. API keys belong to the
 * operator's own servers, so IP bans do not apply to them (an operator cannot lock itself out of
 * /v1/blacklist); a banned uid is still refused as the sender of an API-key send (see SenderBanCheck).
 */
export class HttpAuth {
  private readonly clientIp: ClientIp;

  constructor(
    private readonly apiKeys: ApiKeys,
    private readonly tokens: TokenVerifier,
    private readonly guards: HttpAuthGuards = {},
  ) {
    this.clientIp = guards.clientIp ?? new ClientIp();
  }

  async actor(req: AuthRequest): Promise<Actor> {
    const header = req.headers.authorization;
    if (!header) throw new CourierError('unauthorized', 'missing Authorization: Bearer <API key or token>');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new CourierError('unauthorized', 'Authorization must be "Bearer <API key or token>"');
    const credential = match[1] as string;
    const { blacklist, limits } = this.guards;
    if (this.apiKeys.has(credential) || this.guards.adminKeys?.has(credential)) {
      // The key itself never goes into a Redis key name: its digest identifies the bucket.
      this.refuseIfLimited(req, await this.take(limits?.apiKey, digest(credential)));
      return { kind: 'service' };
    }
    const claims = await this.tokens.verify(credential);
    // Both checks go out together; a ban is reported before a rate limit.
    const [ban, verdict] = await Promise.all([
      blacklist ? blacklist.check({ uid: claims.uid, ip: this.ip(req) }) : null,
      this.take(limits?.user, claims.uid),
    ]);
    if (ban) {
      const who = ban.kind === 'uid' ? 'this user' : 'this address';
      throw new CourierError('blacklisted', `${who} is banned`);
    }
    this.refuseIfLimited(req, verdict);
    return { kind: 'user', uid: claims.uid, role: claims.role };
  }

  async service(req: AuthRequest): Promise<void> {
    const actor = await this.actor(req);
    if (actor.kind !== 'service') throw new CourierError('forbidden', 'this endpoint needs a server API key');
  }

  /** The client address of a request, as IP bans see it. */
  ip(req: AuthRequest): string {
    return this.clientIp.resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
  }

  /**
   * A limiter that cannot answer lets the request through: rate limits protect capacity, and refusing
   * every request while Redis is away would turn a partial outage into a full one. Bans fail closed.
   */
  private async take(limiter: RateLimiter | undefined, id: string): Promise<RateVerdict> {
    if (!limiter) return { ok: true };
    try {
      return await limiter.take(id);
    } catch (err) {
      this.guards.logger?.warn({ err: errorMessage(err) }, 'rate limiter failed; request let through');
      return { ok: true };
    }
  }

  private refuseIfLimited(req: AuthRequest, verdict: RateVerdict): void {
    if (verdict.ok) return;
    const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    // Set here because the error handler only writes the body; headers set before it are kept.
    req.res?.setHeader('Retry-After', String(seconds));
    throw new CourierError('rate_limited', `too many requests, retry in ${seconds} s`);
  }
}

function digest(credential: string): string {
  return createHash('sha256').update(credential).digest('hex').slice(0, 32);
}
