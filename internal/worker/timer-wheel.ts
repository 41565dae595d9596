// A hashed timing wheel: the one timer structure of a worker. ACK deadlines, read-idle checks and token
// expiries of every connection live here, driven by a single unref'd setInterval, instead of one
// setTimeout per message (hundreds of thousands of pending timers would cost memory and timer-heap work).
//
// Time is cut into ticks of `tickMs`; an entry due at `at` fires on the first tick boundary at or after
// `at` (never early, at most one tick late). Each entry stores its absolute tick and sits in slot
// `tick % slots`, in a doubly linked list, so schedule and cancel are O(1). An entry further away than one
// revolution simply stays in its slot and is skipped (one comparison) each time the cursor passes until its
// tick arrives: with 1024 slots of 100 ms, a 24 h token expiry is looked at once every ~100 s.

export interface TimerWheelOptions {
  tickMs: number; // resolution; also the setInterval period
  slots?: number; // wheel size, rounded up to a power of two (default 1024)
  now?: () => number; // clock in ms, injectable for tests (default Date.now)
  autoStart?: boolean; // start the setInterval in the constructor (default true); tests drive advance()
  /** Called when an expiry callback throws, so one bad callback does not stop the others. */
  onError?: (err: unknown) => void;
}

const UNLINKED = -1; // not scheduled (new, cancelled or fired)
const DUE = -2; // taken out of its slot by the running tick, about to fire

/** One scheduled entry. Kept by the caller to cancel or reschedule it; reused across reschedules. */
export class TimerHandle<T> {
  /** @internal absolute tick the entry is due at */
  tick = 0;
  /** @internal slot index, UNLINKED or DUE */
  slot = UNLINKED;
  /** @internal */
  prev: TimerHandle<T> | null = null;
  /** @internal */
  next: TimerHandle<T> | null = null;

  constructor(
    public payload: T,
    /** Free for the caller: e.g. which kind of deadline this is. */
    public kind: number,
  ) {}

  get scheduled(): boolean {
    return this.slot !== UNLINKED;
  }
}

export class TimerWheel<T> {
  private readonly tickMs: number;
  private readonly mask: number;
  private readonly heads: (TimerHandle<T> | null)[];
  private readonly tails: (TimerHandle<T> | null)[];
  private readonly clock: () => number;
  private readonly onError: (err: unknown) => void;
  /** Last tick processed; entries are always placed at cursor + 1 or later. */
  private cursor: number;
  private count = 0;
  private interval: NodeJS.Timeout | null = null;

  constructor(
    options: TimerWheelOptions,
    private readonly onExpire: (payload: T, handle: TimerHandle<T>, now: number) => void,
  ) {
    if (!(options.tickMs > 0)) throw new RangeError('timer wheel: tickMs must be positive');
    const wanted = options.slots ?? 1024;
    if (!Number.isInteger(wanted) || wanted < 1) throw new RangeError('timer wheel: slots must be ≥ 1');
    let slots = 1;
    while (slots < wanted) slots *= 2;
    this.tickMs = options.tickMs;
    this.mask = slots - 1;
    this.heads = new Array<TimerHandle<T> | null>(slots).fill(null);
    this.tails = new Array<TimerHandle<T> | null>(slots).fill(null);
    this.clock = options.now ?? Date.now;
    this.onError = options.onError ?? (() => undefined);
    this.cursor = Math.floor(this.clock() / this.tickMs);
    if (options.autoStart ?? true) this.start();
  }

  /** Entries currently scheduled. */
  get size(): number {
    return this.count;
  }

  now(): number {
    return this.clock();
  }

  start(): void {
    if (this.interval) return;
    this.interval = setInterval(() => this.advance(), this.tickMs);
    this.interval.unref(); // the wheel alone never keeps the process alive
  }

  /** Stops the interval and forgets every entry (none fire afterwards). */
  stop(): void {
    if (this.interval) clearInterval(this.interval);
    this.interval = null;
    for (let s = 0; s <= this.mask; s++) {
      for (let h = this.heads[s] ?? null; h;) {
        const next: TimerHandle<T> | null = h.next;
        h.prev = h.next = null;
        h.slot = UNLINKED;
        h = next;
      }
      this.heads[s] = this.tails[s] = null;
    }
    this.count = 0;
  }

  /** Schedules a new entry due at `at` (ms, same clock as `now`). */
  schedule(at: number, payload: T, kind = 0): TimerHandle<T> {
    const handle = new TimerHandle(payload, kind);
    this.reschedule(handle, at);
    return handle;
  }

  /** Moves an entry (scheduled or not) to a new deadline without allocating. */
  reschedule(handle: TimerHandle<T>, at: number): void {
    // NaN would land in a slot and never fire; Infinity is allowed and means "never".
    if (Number.isNaN(at)) throw new RangeError('timer wheel: deadline is NaN');
    this.unlink(handle);
    const tick = Math.max(Math.ceil(at / this.tickMs), this.cursor + 1);
    const slot = tick & this.mask;
    handle.tick = tick;
    handle.slot = slot;
    handle.next = null;
    handle.prev = this.tails[slot] ?? null;
    if (handle.prev) handle.prev.next = handle;
    else this.heads[slot] = handle;
    this.tails[slot] = handle;
    this.count++;
  }

  /** Returns false when the entry was not scheduled (already fired or cancelled). */
  cancel(handle: TimerHandle<T>): boolean {
    return this.unlink(handle);
  }

  /**
   * Fires every entry due by now(). Called by the interval; tests call it directly after moving their clock.
   * Callbacks may schedule, reschedule or cancel anything, including entries due in the same tick.
   */
  advance(): void {
    const target = Math.floor(this.clock() / this.tickMs);
    if (target <= this.cursor) return;
    if (target - this.cursor > this.mask) {
      // Stalled for more than a revolution (a long GC pause, a suspended laptop): one sweep of every slot
      // fires all that is due, instead of walking each missed tick.
      const due: TimerHandle<T>[] = [];
      for (let s = 0; s <= this.mask; s++) this.collect(s, target, due);
      this.cursor = target;
      this.fire(due);
      return;
    }
    while (this.cursor < target) {
      const tick = ++this.cursor;
      const due: TimerHandle<T>[] = [];
      this.collect(tick & this.mask, tick, due);
      this.fire(due);
    }
  }

  /** Takes the entries of `slot` due by `tick` out of the list; they are marked DUE until they fire. */
  private collect(slot: number, tick: number, due: TimerHandle<T>[]): void {
    for (let h = this.heads[slot] ?? null; h;) {
      const next: TimerHandle<T> | null = h.next;
      if (h.tick <= tick) {
        this.unlink(h);
        h.slot = DUE;
        due.push(h);
      }
      h = next;
    }
  }

  private fire(due: TimerHandle<T>[]): void {
    const now = this.clock();
    for (const h of due) {
      // A callback earlier in this batch may have cancelled or rescheduled this one.
      if (h.slot !== DUE) continue;
      h.slot = UNLINKED;
      try {
        this.onExpire(h.payload, h, now);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private unlink(h: TimerHandle<T>): boolean {
    if (h.slot === DUE) {
      h.slot = UNLINKED;
      return true;
    }
    if (h.slot === UNLINKED) return false;
    const slot = h.slot;
    if (h.prev) h.prev.next = h.next;
    else this.heads[slot] = h.next;
    if (h.next) h.next.prev = h.prev;
    else this.tails[slot] = h.prev;
    h.prev = h.next = null;
    h.slot = UNLINKED;
    this.count--;
    return true;
  }
}
