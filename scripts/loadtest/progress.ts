// The live progress line on stderr. On a terminal it is rewritten in place about once a second; when stderr
// is a file or a pipe (CI, `2> log`) each update is its own line, so the log still shows the run's course.

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  private readonly tty = process.stderr.isTTY === true;
  private lastLength = 0;

  constructor(
    private readonly label: string,
    private readonly render: () => string,
    private readonly everyMs = 1000,
  ) {}

  start(): this {
    this.timer = setInterval(() => this.draw(), this.everyMs);
    this.timer.unref();
    return this;
  }

  /** Prints a line of its own above the progress line (phase changes, warnings). */
  note(text: string): void {
    this.clear();
    process.stderr.write(`[${this.label}] ${text}\n`);
  }

  /** Stops the periodic line (another tool's takes the terminal); notes and stop() still print. */
  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  stop(): void {
    this.pause();
    this.draw();
    if (this.tty) process.stderr.write('\n');
    this.lastLength = 0;
  }

  private clear(): void {
    if (this.tty && this.lastLength > 0) process.stderr.write('\r\x1b[K');
    this.lastLength = 0;
  }

  private draw(): void {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(0).padStart(4);
    const line = `[${this.label} ${seconds}s] ${this.render()}`;
    if (this.tty) {
      process.stderr.write('\r\x1b[K' + line);
      this.lastLength = line.length;
    } else {
      process.stderr.write(line + '\n');
    }
  }
}

/** 12345 → "12,345"; used in progress lines and report tables. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
