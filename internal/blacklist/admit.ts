import type { Admit } from '../worker/ws-handshake.js';
import type { Blacklist } from './blacklist.js';

/**
 * The worker's admission check (DESIGN §4), run before the upgrade so a refusal costs no registry write:
 * counts the attempt against the uid and the IP, then answers
 * - 429 `rate_limited` for the attempt that went over the limit and started an automatic ban: the client
 *   learns that its own retrying caused it, with Retry-After = the ban's length;
 * - 403 `blacklisted` for every attempt during a ban (manual or automatic; the automatic one is extended).
 */
export function blacklistAdmit(blacklist: Blacklist, now: () => number = Date.now): Admit {
  return async ({ uid, ip }) => {
    const verdict = await blacklist.attempt({ uid, ip });
    if (verdict.ok) return { ok: true };
    const retryAfterSeconds = Math.max(1, Math.ceil((verdict.ban.expiresAt - now()) / 1000));
    const who = verdict.ban.kind === 'uid' ? 'this user' : 'this address';
    return verdict.fresh
      ? {
          ok: false,
          status: 429,
          code: 'rate_limited',
          message: `too many connection attempts: ${who} is banned for a while`,
          retryAfterSeconds,
        }
      : { ok: false, status: 403, code: 'blacklisted', message: `${who} is banned`, retryAfterSeconds };
  };
}
