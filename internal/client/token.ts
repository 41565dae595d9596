import type { Clock } from './clock.js';
import { CourierClientError } from './errors.js';

// The user token the client connects with, and its renewal through the app's callback: ahead of expiry on a
// timer, and on demand when the server says the token expired (HTTP 401, close 4001).

export interface TokenInfo {
  token: string;
  /** ms since the epoch; read from the JWT's `exp` when not given. */
  expiresAt?: number;
}

export type TokenRefresher = () => Promise<TokenInfo | string>;

export class TokenKeeper {
  private current: { token: string; expiresAt: number | undefined };
  private receivedAt: number;
  private refreshing: Promise<void> | undefined;
  private timer: unknown;

  constructor(
    initial: TokenInfo | string,
    private readonly refresher: TokenRefresher | undefined,
    private readonly refreshBeforeMs: number,
    private readonly clock: Clock,
    private readonly onError: (err: CourierClientError) => void,
  ) {
    this.current = normalise(initial);
    this.receivedAt = clock.now();
  }

  get token(): string {
    return this.current.token;
  }

  get canRefresh(): boolean {
    return this.refresher !== undefined;
  }

  /** True when the token is expired or about to be (see lead). */
  get stale(): boolean {
    const exp = this.current.expiresAt;
    return exp !== undefined && exp - this.lead(exp) <= this.clock.now();
  }

  /**
   * How long before expiry to refresh: refreshBeforeMs, but at most half the token's life, so that a token
   * that lives shorter than refreshBeforeMs is still used for a while instead of refreshed in a loop.
   */
  private lead(exp: number): number {
    return Math.min(this.refreshBeforeMs, Math.max(0, (exp - this.receivedAt) / 2));
  }

  /** Asks the app for a new token; concurrent callers share one call. Rejects when there is no callback. */
  refresh(): Promise<void> {
    if (!this.refresher) {
      return Promise.reject(
        new CourierClientError('unauthorized', 'the token expired and cannot be refreshed'),
      );
    }
    const refresher = this.refresher;
    this.refreshing ??= (async () => {
      try {
        this.current = normalise(await refresher());
        this.receivedAt = this.clock.now();
        this.schedule();
      } catch (err) {
        throw new CourierClientError(
          'token_refresh_failed',
          `token refresh failed: ${String(err)}`,
          undefined,
          {
            cause: err,
          },
        );
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /** Starts the timer that refreshes ahead of expiry. */
  schedule(): void {
    this.stop();
    const exp = this.current.expiresAt;
    // An already expired token is refreshed on demand (before connecting, on 401/4001), not in a timer loop.
    if (exp === undefined || !this.refresher || exp <= this.clock.now()) return;
    // Timers fire late rather than early, and the browser throttles background tabs: aim well before expiry.
    const delay = Math.max(0, exp - this.lead(exp) - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.refresh().catch((err: unknown) => {
        this.onError(err as CourierClientError);
        // Try again halfway to expiry; a 4001 or 401 before then also refreshes.
        const left = (this.current.expiresAt ?? 0) - this.clock.now();
        if (left > 2_000) this.timer = this.clock.setTimeout(() => this.schedule(), left / 2);
      });
    }, delay);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function normalise(info: TokenInfo | string): { token: string; expiresAt: number | undefined } {
  const token = typeof info === 'string' ? info : info.token;
  const expiresAt = typeof info === 'string' ? undefined : info.expiresAt;
  return { token, expiresAt: expiresAt ?? jwtExpiry(token) };
}

/** The `exp` claim of a JWT in ms, or undefined when the token is not a readable JWT. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/')) as string;
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined; // an opaque token: refreshed on 401/4001 only
  }
}
