import { readFileSync } from 'node:fs';
import { createSecretKey, timingSafeEqual, createHash } from 'node:crypto';
import { SignJWT, errors as joseErrors, importPKCS8, importSPKI, jwtVerify, type KeyLike } from 'jose';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CourierError } from '../errors.js';
import { PLATFORM_PATTERN, ROLES, UID_PATTERN, type Role } from '../protocol/message.js';
import type { Claims, TokenVerifier } from './claims.js';

type JwtOptions = Config['auth']['jwt'];

const pem = (value: string) => (value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8'));

/**
 * Signs and checks user tokens (JWT). Only the configured algorithm is accepted, so `alg: none` and
 * HS256 tokens forged with an RS256 public key are refused.
 */
export class JwtTokens implements TokenVerifier {
  private constructor(
    private readonly options: JwtOptions,
    private readonly signKey: KeyLike | undefined,
    private readonly verifyKey: KeyLike,
  ) {}

  static async create(options: JwtOptions): Promise<JwtTokens> {
    if (options.alg === 'HS256') {
      if (options.secret.length < 32) {
        throw new ConfigError('auth.jwt.secret: HS256 needs a secret of at least 32 characters');
      }
      const key = createSecretKey(Buffer.from(options.secret, 'utf8'));
      return new JwtTokens(options, key, key);
    }
    if (!options.publicKey)
      throw new ConfigError('auth.jwt.publicKey: RS256 needs a public key (PEM or path)');
    let publicKey: KeyLike;
    let privateKey: KeyLike | undefined;
    try {
      publicKey = await importSPKI(pem(options.publicKey), 'RS256');
    } catch (err) {
      throw new ConfigError(`auth.jwt.publicKey: not a usable SPKI PEM (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (options.privateKey) {
      try {
        privateKey = await importPKCS8(pem(options.privateKey), 'RS256');
      } catch (err) {
        throw new ConfigError(`auth.jwt.privateKey: not a usable PKCS#8 PEM (${(err as Error).message})`, {
          cause: err,
        });
      }
    }
    return new JwtTokens(options, privateKey, publicKey);
  }

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  async sign(
    subject: { uid: string; role: Role; platform: string },
    ttlSeconds = this.options.ttlSeconds,
  ): Promise<{ token: string; expiresAt: number }> {
    if (!this.signKey) throw new CourierError('unavailable', 'this node has no private key to sign tokens');
    const now = Math.floor(Date.now() / 1000);
    const exp = now + ttlSeconds;
    const token = await new SignJWT({ role: subject.role, platform: subject.platform })
      .setProtectedHeader({ alg: this.options.alg, typ: 'JWT' })
      .setSubject(subject.uid)
      .setIssuer(this.options.issuer)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.signKey);
    return { token, expiresAt: exp * 1000 };
  }

  async verify(token: string): Promise<Claims> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyKey, {
        algorithms: [this.options.alg],
        issuer: this.options.issuer,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new CourierError('token_expired', 'token expired', undefined, { cause: err });
      throw new CourierError('unauthorized', 'invalid token', undefined, { cause: err });
    }
    const { sub, role, platform, exp } = payload;
    if (typeof sub !== 'string' || !UID_PATTERN.test(sub))
      throw new CourierError('unauthorized', 'token subject is not a valid uid');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role))
      throw new CourierError('unauthorized', 'token role is not valid');
    if (typeof platform !== 'string' || !PLATFORM_PATTERN.test(platform))
      throw new CourierError('unauthorized', 'token platform is not valid');
    return { uid: sub, role: role as Role, platform, expiresAt: (exp ?? 0) * 1000 };
  }
}

/** Constant-time membership test for API keys, so response timing does not reveal key prefixes. */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: string[]) {
    this.digests = keys.map((k) => createHash('sha256').update(k).digest());
  }

  has(candidate: string): boolean {
    const digest = createHash('sha256').update(candidate).digest();
    let found = false;
    for (const d of this.digests) if (timingSafeEqual(d, digest)) found = true;
    return found;
  }
}
