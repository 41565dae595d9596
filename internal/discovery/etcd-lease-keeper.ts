import { ClientClosedError, type Etcd3, type Lease } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { NodeInfo, Registration } from './discovery.js';

const CALL_TIMEOUT_MS = 5_000; // a grant, put or revoke that takes longer is treated as failed
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000; // short: etcd3 already holds a failed host back for 5 s (circuit breaker)
const PUT_RETRY_MS = 1_000; // a value whose put failed without losing the lease is written again after this

export type Encode = (node: NodeInfo) => string;

/**
 * One node's key under its own lease. etcd3's Lease keeps itself alive; when it is lost (etcd lost its data,
 * the lease was revoked behind our back, or this process stalled past the TTL) a new lease is granted and
 * the latest value put under it, retrying with backoff until it works or the registration is revoked.
 */
export class LeaseKeeper implements Registration {
  private lease: Lease | null = null;
  private value: string;
  private written = '';
  private stopped = false;
  private flushing: Promise<void> | null = null;
  private regranting: Promise<void> | null = null;
  private revoking: Promise<void> | null = null;
  private putRetry: NodeJS.Timeout | undefined;
  private wake: (() => void) | null = null;
  private sleepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    node: NodeInfo,
    private readonly ttlSeconds: number,
    private readonly encode: Encode,
    private readonly log: Logger,
  ) {
    this.value = encode(node);
  }

  /** The first grant and put; rejects when etcd cannot be reached, so start-up fails loudly. */
  async start(): Promise<void> {
    await this.grantAndPut();
    this.log.info({ key: this.key }, 'registered in etcd');
  }

  /**
   * Coalesces: while a put is in flight, later values only replace the pending one, so a burst of connection
   * count changes costs at most two puts. Resolves once the latest value is written (or the attempt failed:
   * failures are logged and the value is written again later, so callers need not handle them).
   */
  update(node: NodeInfo): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.value = this.encode(node);
    return this.flush();
  }

  revoke(): Promise<void> {
    this.revoking ??= this.runRevoke();
    return this.revoking;
  }

  private async runRevoke(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.putRetry);
    clearTimeout(this.sleepTimer);
    this.wake?.();
    // A re-grant in flight finishes (and revokes its own lease) before we report the key gone.
    await this.regranting;
    const lease = this.lease;
    this.lease = null;
    if (!lease) return;
    await lease.revoke({ deadline: Date.now() + CALL_TIMEOUT_MS });
    this.log.info({ key: this.key }, 'lease revoked, deregistered from etcd');
  }

  /** Adopts the new lease in the same tick as its put succeeds, so no `lost` event can fall in between. */
  private async grantAndPut(): Promise<void> {
    const lease = this.client.lease(this.ttlSeconds, { deadline: Date.now() + CALL_TIMEOUT_MS });
    // Attached at once: etcd3 emits `lost` for a failed grant too, and for every later loss.
    lease.on('lost', (err) => this.onLost(lease, err));
    const value = this.value;
    try {
      await lease.grant();
      await lease
        .put(this.key)
        .value(value)
        .options({ deadline: Date.now() + CALL_TIMEOUT_MS })
        .exec();
    } catch (err) {
      lease.release();
      throw err;
    }
    this.written = value;
    this.lease = lease;
  }

  private onLost(lease: Lease, err: Error): void {
    if (lease !== this.lease || this.stopped) return; // a failed attempt or an old lease: already handled
    this.lease = null;
    this.log.warn({ key: this.key, err }, 'etcd lease lost; registering again under a new lease');
    this.regranting ??= this.regrant()
      .catch((e: unknown) => this.log.error({ key: this.key, err: e }, 'etcd re-registration stopped'))
      .finally(() => (this.regranting = null));
  }

  private async regrant(): Promise<void> {
    let delay = RETRY_MIN_MS;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.grantAndPut();
        if (this.stopped) return; // revoke() awaits us and then revokes the lease just granted
        this.log.info({ key: this.key, attempt }, 're-registered in etcd under a new lease');
        if (this.written !== this.value) void this.flush();
        return;
      } catch (err) {
        if (err instanceof ClientClosedError) {
          this.log.warn({ key: this.key }, 'etcd client closed; giving up re-registration');
          return;
        }
        this.log.warn({ key: this.key, err, attempt, retryInMs: delay }, 'etcd re-registration failed');
        await this.sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private flush(): Promise<void> {
    this.flushing ??= this.runFlush()
      .catch((err: unknown) => this.log.error({ key: this.key, err }, 'etcd update failed'))
      .finally(() => (this.flushing = null));
    return this.flushing;
  }

  private async runFlush(): Promise<void> {
    while (!this.stopped && this.lease && this.written !== this.value) {
      const value = this.value;
      try {
        await this.lease
          .put(this.key)
          .value(value)
          .options({ deadline: Date.now() + CALL_TIMEOUT_MS })
          .exec();
        this.written = value;
      } catch (err) {
        // A lost lease is re-granted with the latest value by onLost; anything else is retried here once
        // a second, so a brief etcd outage does not leave a stale connection count behind.
        this.log.warn({ key: this.key, err }, 'etcd update failed; will write the latest value again');
        clearTimeout(this.putRetry);
        this.putRetry = setTimeout(() => void this.flush(), PUT_RETRY_MS);
        this.putRetry.unref();
        return;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}
