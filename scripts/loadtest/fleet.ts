// Parent side of the generator processes: fork them, hand each its job, route their messages, and make
// sure none outlives the run (close → wait → SIGKILL).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage } from './ipc.js';

const GENERATOR = fileURLToPath(new URL('./generator.js', import.meta.url));

export class GeneratorError extends Error {
  override readonly name = 'GeneratorError';
  readonly code = 'generator_failed';
}

export class Fleet {
  private readonly children: ChildProcess[] = [];
  private readonly exited: Promise<void>[] = [];
  private readonly waiters: { type: ChildMessage['type']; seen: Set<number>; resolve: () => void }[] = [];
  private failure: ((err: Error) => void) | undefined;
  /** Rejects as soon as one generator reports a fatal error or exits before the run ends. */
  readonly failed: Promise<never>;
  private closing = false;

  constructor(
    readonly size: number,
    private readonly onMessage: (message: ChildMessage) => void,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.failure = reject));
    this.failed.catch(() => undefined); // observed through race(); never an unhandled rejection
    for (let i = 0; i < size; i++) {
      // 'advanced' serialization sends typed arrays (message keys) as binary instead of JSON number lists.
      const child = fork(GENERATOR, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.children.push(child);
      this.exited.push(new Promise((resolve) => child.once('exit', () => resolve())));
      child.on('message', (raw) => this.route(raw as ChildMessage));
      child.once('exit', (code, signal) => {
        if (!this.closing)
          this.failure?.(new GeneratorError(`generator ${i} exited early (code ${code}, signal ${signal})`));
      });
    }
  }

  private route(message: ChildMessage): void {
    if (message.type === 'fatal') {
      this.failure?.(new GeneratorError(`generator ${message.proc}: ${message.message}`));
      return;
    }
    for (const w of this.waiters) {
      if (w.type !== message.type) continue;
      w.seen.add(message.proc);
      if (w.seen.size === this.size) w.resolve();
    }
    this.onMessage(message);
  }

  send(proc: number, message: ParentMessage): void {
    const child = this.children[proc];
    if (child?.connected) child.send(message);
  }

  broadcast(message: ParentMessage): void {
    for (let i = 0; i < this.size; i++) this.send(i, message);
  }

  /** Resolves once every generator has sent a message of this type (register before it can arrive). */
  expectAll(type: ChildMessage['type']): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ type, seen: new Set(), resolve }));
  }

  /** Waits for `promise`, or fails with the first generator failure, or after `timeoutMs`. */
  async race<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GeneratorError(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([promise, this.failed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  pids(): number[] {
    return this.children.map((c) => c.pid ?? 0).filter((p) => p > 0);
  }

  /** Tells every generator to close, and kills those still running after `graceMs`. Idempotent. */
  async close(graceMs = 8000): Promise<void> {
    this.closing = true;
    this.broadcast({ type: 'close' });
    const timer = setTimeout(() => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, graceMs);
    await Promise.allSettled(this.exited);
    clearTimeout(timer);
  }
}
