// Server CPU time, read from /proc/<pid>/stat (utime + stime of all the process's threads, in clock ticks), so
// it works for any server process on this machine without its cooperation. `push` samples it once a second,
// aligned with the seconds in which deliveries are counted, and divides the CPU of the timed sending window
// by the messages delivered in the same window.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc times (`getconf CLK_TCK`), read once; 100 when getconf is missing. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    let n = Number.NaN;
    try {
      n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
    } catch {
      n = Number.NaN; // no getconf: 100 is what Linux uses on every common architecture
    }
    ticksPerSecond = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticksPerSecond;
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) in clock ticks, or null when the process is gone. */
export function cpuTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // exited (or another user's process): the caller reports it as missing
  }
  // Field 2, the command name, is in parentheses and may hold spaces or parentheses itself: count the fields
  // from the last ')'. What follows starts with field 3 (state), so field n is at index n - 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : null;
}

/**
 * Time the process's main thread (its event loop) has spent runnable but waiting for a core, ns: the second
 * field of /proc/<pid>/schedstat. Null when the process is gone or the kernel keeps no such figure.
 */
export function runQueueWaitNs(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/schedstat`, 'utf8');
  } catch {
    return null;
  }
  const wait = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(wait) ? wait : null;
}

/** utime + stime of a process in µs (NaN when the process is gone), for benchmarks that time one step. */
export function cpuMicros(pid: number): number {
  return ((cpuTicks(pid) ?? Number.NaN) * 1e6) / clockTicks();
}

export interface CpuSample {
  /** Second since the run's start this reading belongs to (taken at start + sec × 1000, or just after). */
  sec: number;
  /** When it was really taken, epoch ms. */
  atMs: number;
  /** Ticks per pid, in the order of `CpuRecorder.pids`; null = process gone. */
  ticks: (number | null)[];
  /** Run-queue wait of each pid's main thread so far, ns (runQueueWaitNs), in the same order. */
  waitNs: (number | null)[];
  /** The whole machine's ticks at the same moment (machineTicks), or null where /proc/stat is not read. */
  machine: number[] | null;
}

/** CPU seconds between two readings, over the pids present in both; the pids missing from either are listed. */
export function cpuSecondsBetween(
  from: CpuSample,
  to: CpuSample,
  pids: number[],
): { seconds: number; perPid: (number | null)[]; missing: number[] } {
  const hz = clockTicks();
  let ticks = 0;
  const missing: number[] = [];
  const perPid = pids.map((pid, i) => {
    const a = from.ticks[i];
    const b = to.ticks[i];
    if (a === null || a === undefined || b === null || b === undefined) {
      missing.push(pid);
      return null;
    }
    ticks += b - a;
    return (b - a) / hz;
  });
  return { seconds: ticks / hz, perPid, missing };
}

/**
 * Reads the CPU time of `pids` at start + k seconds for k = 0, 1, 2, … until stopped. A late timer (a busy
 * parent) still takes its reading, just later; its real time is kept, so cores-busy figures stay exact.
 */
export class CpuRecorder {
  readonly samples: CpuSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private waiters: { sec: number; resolve: () => void }[] = [];

  constructor(
    readonly pids: number[],
    private readonly startMs: number,
    private readonly now: () => number,
  ) {}

  start(): void {
    clockTicks(); // getconf runs now, not in the middle of the first reading
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const sec = this.samples.length;
    this.timer = setTimeout(
      () => {
        this.samples.push({
          sec,
          atMs: this.now(),
          ticks: this.pids.map(cpuTicks),
          waitNs: this.pids.map(runQueueWaitNs),
          machine: machineTicks(),
        });
        for (const w of this.waiters.filter((x) => x.sec <= sec)) w.resolve();
        this.waiters = this.waiters.filter((x) => x.sec > sec);
        this.schedule();
      },
      Math.max(0, this.startMs + sec * 1000 - this.now()),
    );
  }

  /** Resolves once the reading of second `sec` was taken. */
  reached(sec: number): Promise<void> {
    if (this.samples.length > sec || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ sec, resolve }));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  sample(sec: number): CpuSample | undefined {
    return this.samples[sec];
  }

  /** What the whole machine did in each second [k, k + 1): cores busy and iowait, for the chart. */
  machinePerSecond(): { busy: [number, number][]; iowait: [number, number][] } {
    const busy: [number, number][] = [];
    const iowait: [number, number][] = [];
    for (const [k, a, b, wall] of this.seconds()) {
      const shares = a.machine && b.machine ? machineSharesBetween(a.machine, b.machine, wall) : null;
      if (!shares) continue;
      busy.push([k, shares.coresBusy]);
      iowait.push([k, shares.iowaitPercent]);
    }
    return { busy, iowait };
  }

  /** Cores busy in each second [k, k + 1): CPU seconds over that second's real length. */
  coresPerSecond(): [number, number][] {
    const out: [number, number][] = [];
    for (const [k, a, b, wall] of this.seconds()) {
      out.push([k, round2(cpuSecondsBetween(a, b, this.pids).seconds / wall)]);
    }
    return out;
  }

  /**
   * Per pid, how long its event loop waited for a core in each second [k, k + 1), in ms per second of real
   * time: on a machine with more runnable threads than cores, every hop of a message waits there, and no
   * figure of the process's own shows it.
   */
  waitPerSecond(): { pid: number; points: [number, number][] }[] {
    return this.pids.map((pid, i) => {
      const points: [number, number][] = [];
      for (const [k, a, b, wall] of this.seconds()) {
        const from = a.waitNs[i];
        const to = b.waitNs[i];
        if (from === null || from === undefined || to === null || to === undefined) continue;
        points.push([k, round2((to - from) / 1e6 / wall)]);
      }
      return { pid, points };
    });
  }

  /** Each second k with its two readings and their real distance apart in seconds (when positive). */
  private *seconds(): Generator<[number, CpuSample, CpuSample, number]> {
    for (let k = 0; k + 1 < this.samples.length; k++) {
      const a = this.samples[k] as CpuSample;
      const b = this.samples[k + 1] as CpuSample;
      const wall = (b.atMs - a.atMs) / 1000;
      if (wall > 0) yield [k, a, b, wall];
    }
  }
}

/** The machine-wide `cpu` line of /proc/stat in clock ticks (user nice system idle iowait irq softirq steal), or null. */
export function machineTicks(): number[] | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== 'cpu') return null;
    const ticks = fields.slice(1, 9).map(Number);
    return ticks.length === 8 && ticks.every(Number.isFinite) ? ticks : null;
  } catch {
    return null; // not Linux: the report says "not measured"
  }
}

export interface MachineShares {
  /** Cores busy on average over the window, every process of the machine (load generators included). */
  coresBusy: number;
  /**
   * Shares of all cores' time, in %: softirq (network processing, loopback included), steal, and iowait
   * (idle with a disk operation outstanding: an fsync that stalls the store shows here, not in busy time).
   */
  softirqPercent: number;
  stealPercent: number;
  iowaitPercent: number;
}

/**
 * What the whole machine did between two readings of machineTicks() taken `seconds` apart: the shares of
 * softirq (loopback packets), steal (the hypervisor running someone else) and iowait (waiting on the disk)
 * tell a busy, crowded or stalled machine from a slower program.
 */
export function machineSharesBetween(a: number[], b: number[], seconds: number): MachineShares | null {
  if (a.length !== 8 || b.length !== 8 || seconds <= 0) return null;
  const d = b.map((v, i) => v - (a[i] as number));
  const total = d.reduce((sum, v) => sum + v, 0);
  if (total <= 0) return null;
  const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = d;
  return {
    coresBusy: round2((user + nice + system + irq + softirq) / clockTicks() / seconds),
    softirqPercent: round2((softirq / total) * 100),
    stealPercent: round2((steal / total) * 100),
    iowaitPercent: round2((iowait / total) * 100),
  };
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
