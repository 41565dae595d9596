import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { CourierError } from '../errors.js';

/** Guards the /internal/ endpoints with the cluster's shared key (auth.internalKey). */
export class InternalAuth {
  private readonly digest: Buffer;

  constructor(readonly key: string) {
    this.digest = createHash('sha256').update(key).digest();
  }

  /** True when an Authorization header carries the key (for servers without Express, e.g. the worker's). */
  accepts(header: string | undefined): boolean {
    const given = header?.startsWith('Bearer ') ? header.slice(7) : '';
    return given.length > 0 && timingSafeEqual(createHash('sha256').update(given).digest(), this.digest);
  }

  /** Throws 401 unless the Authorization header carries the key (fast routes). */
  check(header: string | undefined): void {
    if (!this.accepts(header))
      throw new CourierError('unauthorized', 'internal endpoint: missing or wrong internal key');
  }

  readonly middleware: RequestHandler = (req, _res, next) => {
    const ok = this.accepts(req.get('authorization'));
    next(
      ok ? undefined : new CourierError('unauthorized', 'internal endpoint: missing or wrong internal key'),
    );
  };
}
