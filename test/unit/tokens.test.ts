import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { ApiKeys, JwtTokens } from '../../internal/auth/tokens.js';
import { ConfigError } from '../../internal/config/load.js';
import { CourierError } from '../../internal/errors.js';

const base = {
  alg: 'HS256' as const,
  secret: 'a-secret-of-at-least-thirty-two-chars!',
  privateKey: '',
  publicKey: '',
  issuer: 'courier',
  ttlSeconds: 60,
};

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof CourierError && err.code === code);
}

describe('user tokens', () => {
  it('signs and verifies HS256 with role, platform and expiry', async () => {
    const tokens = await JwtTokens.create(base);
    const { token, expiresAt } = await tokens.sign({ uid: 'u1', role: 'agent', platform: 'app' });
    assert.ok(Math.abs(expiresAt - (Date.now() + 60_000)) < 2_000);
    const claims = await tokens.verify(token);
    assert.deepEqual(
      { ...claims, expiresAt: 0 },
      { uid: 'u1', role: 'agent', platform: 'app', expiresAt: 0 },
    );
  });

  it('refuses expired tokens, other keys, alg none and garbage', async () => {
    const tokens = await JwtTokens.create(base);
    const secret = new TextEncoder().encode(base.secret);
    const expired = await new SignJWT({ role: 'customer', platform: 'web' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('courier')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(secret);
    await rejects(tokens.verify(expired), 'token_expired');

    const other = await JwtTokens.create({ ...base, secret: 'another-secret-of-thirty-two-characters' });
    await rejects(
      tokens.verify((await other.sign({ uid: 'u1', role: 'customer', platform: 'web' })).token),
      'unauthorized',
    );

    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'u1', role: 'customer', platform: 'web', iss: 'courier', exp: 9e9 })}.`;
    await rejects(tokens.verify(none), 'unauthorized');
    await rejects(tokens.verify('not.a.token'), 'unauthorized');

    const badRole = await new SignJWT({ role: 'admin', platform: 'web' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('courier')
      .setExpirationTime('1h')
      .sign(secret);
    await rejects(tokens.verify(badRole), 'unauthorized');
  });

  it('supports RS256 and refuses an HS256 token made with the public key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const privPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const tokens = await JwtTokens.create({
      ...base,
      alg: 'RS256',
      secret: '',
      publicKey: pubPem,
      privateKey: privPem,
    });
    const { token } = await tokens.sign({ uid: 'u2', role: 'customer', platform: 'web' });
    assert.equal((await tokens.verify(token)).uid, 'u2');

    const verifyOnly = await JwtTokens.create({ ...base, alg: 'RS256', secret: '', publicKey: pubPem });
    assert.equal((await verifyOnly.verify(token)).uid, 'u2');
    await rejects(verifyOnly.sign({ uid: 'u2', role: 'customer', platform: 'web' }), 'unavailable');

    const confused = await new SignJWT({ role: 'customer', platform: 'web' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u2')
      .setIssuer('courier')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(pubPem));
    await rejects(tokens.verify(confused), 'unauthorized');
  });

  it('stops at start-up on weak or missing keys, naming the key', async () => {
    await assert.rejects(
      JwtTokens.create({ ...base, secret: 'short' }),
      (e: Error) => e instanceof ConfigError && /auth\.jwt\.secret/.test(e.message),
    );
    await assert.rejects(JwtTokens.create({ ...base, alg: 'RS256' }), /auth\.jwt\.publicKey/);
    await assert.rejects(
      JwtTokens.create({
        ...base,
        alg: 'RS256',
        publicKey: '-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----',
      }),
      /auth\.jwt\.publicKey/,
    );
  });
});

describe('API keys', () => {
  it('matches exactly', () => {
    const keys = new ApiKeys(['server-key-0001', 'server-key-0002']);
    assert.equal(keys.has('server-key-0002'), true);
    assert.equal(keys.has('server-key-000'), false);
    assert.equal(keys.has(''), false);
  });
});
