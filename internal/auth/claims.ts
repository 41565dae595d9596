import type { Role } from '../protocol/message.js';

/** Who a user token speaks for (JWT claims `sub`, `role`, `platform`, `exp`). */
export interface Claims {
  uid: string;
  role: Role;
  platform: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export interface TokenVerifier {
  /** Resolves the claims of a valid token; rejects with CourierError `unauthorized` or `token_expired`. */
  verify(token: string): Promise<Claims>;
}
