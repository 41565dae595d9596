// Opens a generator's connections at a paced rate with a bounded number of handshakes in flight. Opens are
// scheduled open-loop (intended time i / rate); when the server is slower than the rate the queue grows and
// the open latency, measured from the intended time, shows it.
import { openConn, type ConnEvents, type LoadConn } from './clients.js';
import type { WorkerPicker } from './http-client.js';
import type { TargetSpec } from './ipc.js';
import { realClock } from './scheduler.js';
import type { SourcePorts } from './source-ports.js';

export interface OpenTask {
  k: number; // local index in this generator
  uid: string;
  token: string; // '' for Socket.IO
  source: string; // local address to bind, '' = kernel default
  intendedMs: number;
}

/**
 * A worker at its connection cap answers the upgrade with 503 and the client is expected to ask the gateway
 * again (the SDK does): the gateway's pick comes from connection counts published every few seconds, so a
 * burst can fill a worker before the gateway hears of it. The generator does the same, a few times, within
 * the connection timeout; the open latency, measured from the intended time, includes the retries.
 */
const RETRIES_ON_FULL = 3;

interface Slot {
  task: OpenTask;
  conn: LoadConn | undefined;
  at: number;
  retries: number;
}

export class Opener {
  private readonly queue: OpenTask[] = [];
  private head = 0;
  private readonly started = new Map<number, Slot>();
  private readonly sweeper: NodeJS.Timeout;
  readonly conns: (LoadConn | undefined)[] = [];
  private readonly wrapped: ConnEvents;

  constructor(
    private readonly target: TargetSpec,
    private readonly picker: WorkerPicker,
    private readonly maxPending: number,
    private readonly ports: SourcePorts, // local ports of the connections that bind a source address
    events: ConnEvents,
  ) {
    // Every outcome frees a handshake slot, so the queue moves on whatever happened to the connection.
    this.wrapped = {
      ...events,
      open: (conn) => {
        this.settle(conn.index);
        events.open(conn);
      },
      fail: (k, reason) => {
        const slot = this.started.get(k);
        if (slot && reason === 'http 503' && slot.retries < RETRIES_ON_FULL) {
          slot.retries++;
          this.conns[k] = undefined;
          this.picker.forget();
          return this.launch(slot);
        }
        const wasPending = slot !== undefined;
        this.settle(k);
        this.conns[k] = undefined;
        if (wasPending) events.fail(k, reason);
        else events.drop(k, reason); // a late failure after open is a drop
      },
      drop: (k, reason) => {
        this.conns[k] = undefined;
        events.drop(k, reason);
      },
    };
    // ws' handshakeTimeout covers only the upgrade; a connection that upgrades but never says welcome (or a
    // gateway lookup that hangs) is given up here.
    this.sweeper = setInterval(() => this.sweep(), 500);
    this.sweeper.unref();
  }

  get pending(): number {
    return this.started.size;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  enqueue(task: OpenTask): void {
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.started.size < this.maxPending && this.head < this.queue.length) {
      const task = this.queue[this.head++] as OpenTask;
      this.start(task);
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head); // keep the queue from holding every task of the run
      this.head = 0;
    }
  }

  private start(task: OpenTask): void {
    const slot: Slot = { task, conn: undefined, at: realClock.now(), retries: 0 };
    this.started.set(task.k, slot);
    this.launch(slot);
  }

  private launch(slot: Slot): void {
    const { task } = slot;
    slot.conn = undefined;
    this.picker.url(task.token).then(
      (url) => {
        if (this.started.get(task.k) !== slot) return; // timed out while asking the gateway
        // --spread: the same worker port on another loopback address is a new 4-tuple space, no bind() needed.
        const spread = this.target.spread && task.source !== '';
        const bind = spread ? '' : task.source;
        const conn = openConn(
          this.target.kind,
          task.k,
          spread ? url.replace('//127.0.0.1:', `//${task.source}:`) : url,
          task,
          { address: bind, port: bind ? this.ports.next(bind) : 0 },
          this.target.connectTimeoutMs,
          this.wrapped,
        );
        slot.conn = conn;
        this.conns[task.k] = conn;
      },
      (err: unknown) => this.wrapped.fail(task.k, `gateway ${(err as Error).message.slice(0, 60)}`),
    );
  }

  private settle(k: number): void {
    if (this.started.delete(k)) this.pump();
  }

  private sweep(): void {
    const limit = realClock.now() - this.target.connectTimeoutMs;
    for (const [k, slot] of this.started) {
      if (slot.at > limit) continue;
      if (slot.conn) slot.conn.abort('timeout');
      else this.wrapped.fail(k, 'timeout (gateway)');
    }
  }

  /** Closes every open connection (our orderly close: no drops reported) and stops the sweeper. */
  closeAll(): void {
    clearInterval(this.sweeper);
    this.queue.length = 0;
    this.head = 0;
    for (const conn of this.conns) conn?.close();
    for (const slot of this.started.values()) slot.conn?.close();
    this.started.clear();
  }
}
