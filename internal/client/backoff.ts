// Reconnect delays: exponential growth with "equal jitter" (half fixed, half random), so that thousands of
// clients dropped by the same worker spread their reconnects out instead of arriving together, while no
// client ever retries with a zero delay and hammers a server that is still down.

export interface BackoffOptions {
  initialMs?: number; // first delay before jitter (default 500)
  maxMs?: number; // cap on the un-jittered delay (default 30_000)
  factor?: number; // growth per failed attempt (default 2)
}

const DEFAULTS = { initialMs: 500, maxMs: 30_000, factor: 2 };

export class Backoff {
  private readonly options: Required<BackoffOptions>;
  private attempts = 0;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = { ...DEFAULTS, ...stripUndefined(options) };
    const { initialMs, maxMs, factor } = this.options;
    if (!(initialMs > 0)) throw new RangeError(`backoff.initialMs must be positive (got ${initialMs})`);
    if (!(maxMs >= initialMs)) throw new RangeError(`backoff.maxMs must be ≥ initialMs (got ${maxMs})`);
    if (!(factor >= 1)) throw new RangeError(`backoff.factor must be ≥ 1 (got ${factor})`);
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.attempts;
  }

  /** The delay before the next attempt, in [base/2, base) where base = min(maxMs, initialMs·factor^n). */
  next(): number {
    const { initialMs, maxMs, factor } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** this.attempts);
    this.attempts++;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  /** After a success: the next failure starts from initialMs again. */
  reset(): void {
    this.attempts = 0;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
