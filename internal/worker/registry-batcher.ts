import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ConnectionRef, Registry, RegistryEntry } from '../registry/registry.js';
import { RegState, type Connection } from './connection.js';

// How a worker talks to the registry about its connections.
//
// Adds and removes made in the same event-loop turn go out as one call each (coalesced with setImmediate),
// and while one flush is in flight the next ones queue up behind it, so a worker accepting thousands of
// connections per second makes a handful of registry calls, not one per connection. One flush at a time
// also keeps order: a connection's remove is never sent before its add.
//
// A failed add or remove is logged, not retried: the periodic refresh re-puts every held connection, and a
// stale field left by a failed remove is reported as `missing` by deliver and cleaned by the dispatcher.

const CHUNK = 1000; // entries per registry call (one Redis pipeline each)
// The periodic refresh writes this many entries per call, its calls spread over half the refresh period.
// Sent back to back, the passes of 8 workers holding 100,000 connections put 200,000 commands into Redis
// at once every minute; dispatchers' lookups queued behind them and every message stalled for about a
// second (measured: p99 at 1,400 msg/s 1.1 s with the burst, BENCHMARKS.md).
const PACED_CHUNK = 100;

export class RegistryBatcher {
  private adds: Connection[] = [];
  private added: (() => void)[] = []; // resolvers of add(), one per entry in `adds`
  private removes: ConnectionRef[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private flushing: Promise<void> | null = null;
  private refreshing: Promise<void> | null = null;
  private hurry = false; // the running pass stops pacing itself: a registry loss to heal, or stop()
  private wake: (() => void) | null = null; // ends the running pass's pause early
  private readonly interval: NodeJS.Timeout;

  constructor(
    private readonly registry: Registry,
    private readonly workerId: string,
    private readonly refreshMs: number,
    private readonly log: Logger,
    /** The connections the worker holds (its live map). */
    private readonly held: ReadonlyMap<string, Connection>,
  ) {
    this.interval = setInterval(() => {
      this.pass().catch((err: unknown) => this.log.error({ err }, 'registry refresh failed'));
    }, refreshMs);
    this.interval.unref();
  }

  /** Resolves once the flush carrying this add has been answered (written, or failed and logged). */
  add(conn: Connection): Promise<void> {
    return new Promise((resolve) => {
      this.adds.push(conn);
      this.added.push(resolve);
      this.kick();
    });
  }

  /** Marks the connection released; its field is removed only if its add was already sent. */
  remove(conn: Connection): void {
    const was = conn.reg;
    conn.reg = RegState.released;
    if (was !== RegState.added) return; // still queued: the flush skips it, nothing to undo
    this.removes.push({ uid: conn.uid, connId: conn.connId });
    this.kick();
  }

  /**
   * Re-puts every held connection now, as fast as the registry answers (one call of CHUNK entries in flight
   * at a time), to heal a registry that lost its data. A periodic pass already running joins in and stops
   * pacing itself.
   */
  refreshAll(): Promise<void> {
    this.hurry = true;
    this.wake?.();
    return this.pass();
  }

  /**
   * The worker's one periodic pass over all its connections: it extends the registry keys' expiry and heals
   * a registry that lost its data. A pass never overlaps the previous one and, unless hurried, spreads its
   * calls of PACED_CHUNK entries over half the refresh period.
   */
  private pass(): Promise<void> {
    this.refreshing ??= this.runRefresh().finally(() => {
      this.refreshing = null;
      this.hurry = false;
    });
    return this.refreshing;
  }

  /** Stops the refresh timer and resolves once every queued add and remove has been sent. */
  async stop(): Promise<void> {
    clearInterval(this.interval);
    this.hurry = true;
    this.wake?.();
    for (;;) {
      if (this.flushing) {
        await this.flushing;
        continue;
      }
      if (this.adds.length === 0 && this.removes.length === 0) break;
      if (this.scheduled) clearImmediate(this.scheduled);
      this.scheduled = null;
      this.run();
    }
    await this.refreshing;
  }

  private kick(): void {
    if (this.scheduled || this.flushing) return; // the running flush re-kicks when it finishes
    this.scheduled = setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = null;
    this.flushing = this.flush()
      .catch((err: unknown) => this.log.error({ err }, 'registry flush failed'))
      .finally(() => {
        this.flushing = null;
        if (this.adds.length > 0 || this.removes.length > 0) this.kick();
      });
  }

  private async flush(): Promise<void> {
    const entries: RegistryEntry[] = [];
    for (const conn of this.adds) {
      if (conn.reg !== RegState.queued) continue; // closed before its add went out
      conn.reg = RegState.added;
      entries.push(conn.entry(this.workerId));
    }
    const removes = this.removes;
    const added = this.added;
    this.adds = [];
    this.added = [];
    this.removes = [];
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      await this.registry.add(chunk).catch((err: unknown) => {
        this.log.warn({ err: errorMessage(err), count: chunk.length }, 'registry add failed');
      });
    }
    for (const resolve of added) resolve();
    for (let i = 0; i < removes.length; i += CHUNK) {
      const chunk = removes.slice(i, i + CHUNK);
      await this.registry.remove(chunk).catch((err: unknown) => {
        this.log.warn({ err: errorMessage(err), count: chunk.length }, 'registry remove failed');
      });
    }
  }

  private async runRefresh(): Promise<void> {
    let chunk: RegistryEntry[] = [];
    let failed = 0;
    let lastError: unknown;
    const gapMs = this.refreshMs / 2 / Math.max(1, Math.ceil(this.held.size / PACED_CHUNK));
    let sent = 0;
    const send = async () => {
      const entries = chunk;
      chunk = [];
      if (sent++ > 0 && !this.hurry) await this.pause(gapMs);
      await this.registry.refresh(entries).catch((err: unknown) => {
        failed += entries.length;
        lastError = err;
      });
    };
    // Map iterators tolerate deletes and inserts between the awaits: closed connections are skipped.
    for (const conn of this.held.values()) {
      if (conn.reg !== RegState.added) continue;
      chunk.push(conn.entry(this.workerId));
      if (chunk.length >= (this.hurry ? CHUNK : PACED_CHUNK)) await send();
    }
    if (chunk.length > 0) await send();
    if (failed > 0) this.log.warn({ err: errorMessage(lastError), failed }, 'registry refresh incomplete');
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms).unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }
}
