import type { Logger } from '../log/logger.js';

/** A started role: business, dispatcher or worker. */
export interface RoleNode {
  readonly role: 'business' | 'dispatcher' | 'worker';
  readonly id: string;
  /**
   * Leaves discovery first (so nobody routes here), then stops taking new work and hands clients off;
   * in-flight work finishes. Resolves when the node is quiet or `graceMs` has passed.
   */
  drain(graceMs: number): Promise<void>;
  /** Releases servers and timers. Called after drain; idempotent. */
  close(): Promise<void>;
}

export interface Closeable {
  close(): Promise<void>;
}

/**
 * Shuts down once, in order: drain every node (deregister → stop accepting → 1012 → grace), close the nodes,
 * close the backends, flush the logger. Idempotent like hocuspocus' destroy: a second signal waits for the first.
 */
export class Lifecycle {
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly nodes: RoleNode[],
    private readonly backends: Closeable,
    private readonly logger: Logger,
    private readonly graceMs: number,
  ) {}

  shutdown(reason: string): Promise<void> {
    this.shutdownPromise ??= this.run(reason);
    return this.shutdownPromise;
  }

  private async run(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    // One deadline for the whole shutdown, so a process with several roles still exits within graceMs;
    // the drains stop a little earlier to leave closing servers and backends their share of it.
    const deadline = Date.now() + this.graceMs;
    const drainsEnd = deadline - Math.min(2_000, this.graceMs / 5);
    // Workers drain before dispatchers and business so that in-flight pushes still find a route.
    const order = ['worker', 'dispatcher', 'business'] as const;
    for (const role of order) {
      const graceMs = Math.max(0, drainsEnd - Date.now());
      // A drain stuck past its bound (a lease revoke while etcd is unreachable) is left behind, not awaited.
      const results = await Promise.allSettled(
        this.nodes.filter((n) => n.role === role).map((n) => before(drainsEnd, n.drain(graceMs))),
      );
      for (const r of results)
        if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'drain failed');
    }
    const closing = (async () => {
      const closed = await Promise.allSettled(this.nodes.map((n) => n.close()));
      for (const r of closed)
        if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'close failed');
      await this.backends.close();
    })();
    // A backend that hangs on close (Redis or etcd unreachable) must not keep the process past its grace
    // period: what is left undone (registry removals, lease revokes) expires or is swept by the others.
    if ((await before(deadline, closing)) === LATE)
      this.logger.warn('grace period over before every server and backend closed');
    this.logger.info('stopped');
    await new Promise<void>((resolve) => this.logger.flush(() => resolve()));
  }

  /** SIGTERM/SIGINT shut down and then exit; a failure to shut down still exits, with code 1. */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        this.shutdown(signal).then(
          () => exit(0),
          (err: unknown) => {
            this.logger.error({ err }, 'shutdown failed');
            exit(1);
          },
        );
      });
    }
  }
}

const LATE = Symbol('late');

/** `work`'s outcome, or LATE once `deadline` (epoch ms) has passed; the timer never outlives the race. */
async function before<T>(deadline: number, work: Promise<T>): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `<role>-<hostname>-<random>` unless config gives node.id. */
export function nodeId(configured: string, role: string, hostname: string): string {
  if (configured) return configured;
  return `${role}-${hostname.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 32)}-${Math.random().toString(36).slice(2, 8)}`;
}
