// How N connections are spread over P generator processes and S loopback source addresses. Two machine
// limits shape it: one process may hold at most 20,000 open files (so each generator stays well below), and
// one source address reaches one destination ip:port from about 28,000 ephemeral ports (so connections are
// spread over 127.0.0.2, 127.0.0.3, …).

export const HARD_FILE_LIMIT = 20_000; // per process, on this machine
export const DEFAULT_MAX_PER_PROC = 15_000; // leaves room for HTTP sockets, IPC and the runtime's own files
export const DEFAULT_MAX_PER_SOURCE = 25_000; // below the ~28k ephemeral ports per source → destination

/** Local ports to bind connections to (see source-ports.ts): below the kernel's ephemeral range. */
export interface PortRange {
  lo: number; // first port
  hi: number; // one past the last
}

export const FIRST_BINDABLE_PORT = 1024;
/** Where /proc/sys/net/ipv4/ip_local_port_range cannot be read: 1024 up to Linux's default ephemeral range. */
export const DEFAULT_PORTS: PortRange = { lo: FIRST_BINDABLE_PORT, hi: 32_768 };

export interface PlanInput {
  count: number; // connections
  procs: number; // generator processes
  sources: string[]; // local addresses to bind; [] = let the kernel pick (127.0.0.1)
  maxPerProc?: number;
  maxPerSource?: number;
  ports?: PortRange; // default 1024–32767; the tools pass bindablePorts()
}

export interface ProcPlan {
  index: number;
  count: number;
  perSource: Record<string, number>;
}

export interface Plan {
  count: number;
  procs: ProcPlan[];
  sources: string[];
  perSource: Record<string, number>;
  maxPerProc: number;
  ports: PortRange;
}

export class PlanError extends Error {
  override readonly name = 'PlanError';
  readonly code = 'bad_plan';
}

/**
 * Connection j belongs to process j mod P and binds source j mod S: every source carries within one of N / S
 * connections, which is what matters, since ephemeral ports run out per source → destination pair over all
 * processes together.
 */
export function sourceOf(plan: { procs: unknown[]; sources: string[] }, index: number): string {
  const s = plan.sources.length;
  return s === 0 ? '' : (plan.sources[index % s] as string);
}

/** Global connection indexes (uids are derived from them) of process `proc`, with the source each binds. */
export function* connectionsOf(plan: Plan, proc: number): Generator<{ index: number; source: string }> {
  const p = plan.procs.length;
  const n = plan.procs[proc]?.count ?? 0;
  for (let k = 0; k < n; k++) yield { index: proc + k * p, source: sourceOf(plan, proc + k * p) };
}

export function splitPlan(input: PlanInput): Plan {
  const maxPerProc = input.maxPerProc ?? DEFAULT_MAX_PER_PROC;
  const maxPerSource = input.maxPerSource ?? DEFAULT_MAX_PER_SOURCE;
  const { count, procs, sources } = input;
  if (!Number.isInteger(count) || count < 0)
    throw new PlanError(`--count must be an integer ≥ 0 (got ${count})`);
  if (!Number.isInteger(procs) || procs < 1)
    throw new PlanError(`--procs must be an integer ≥ 1 (got ${procs})`);
  if (maxPerProc > HARD_FILE_LIMIT - 1000) {
    throw new PlanError(
      `--max-per-proc ${maxPerProc} leaves no room below the hard limit of ${HARD_FILE_LIMIT} open files per ` +
        `process (sockets for HTTP, IPC and the runtime need some); use at most ${HARD_FILE_LIMIT - 1000}`,
    );
  }
  const perProc = Math.ceil(count / procs);
  if (perProc > maxPerProc) {
    throw new PlanError(
      `${count} connections over ${procs} process(es) is ${perProc} per process, above the cap of ${maxPerProc} ` +
        `(one process may hold at most ${HARD_FILE_LIMIT} open files here); use --procs ${Math.ceil(count / maxPerProc)} or more`,
    );
  }
  const ports = input.ports ?? DEFAULT_PORTS;
  const plan: Plan = { count, procs: [], sources: [...sources], perSource: {}, maxPerProc, ports };
  for (let p = 0; p < procs; p++) {
    const n = Math.floor(count / procs) + (p < count % procs ? 1 : 0);
    plan.procs.push({ index: p, count: n, perSource: {} });
  }
  // Exact per-source counts from the same rule the generators use, so the printed plan is what happens.
  for (const proc of plan.procs) {
    for (let k = 0; k < proc.count; k++) {
      const source = sourceOf(plan, proc.index + k * procs) || 'default';
      proc.perSource[source] = (proc.perSource[source] ?? 0) + 1;
      plan.perSource[source] = (plan.perSource[source] ?? 0) + 1;
    }
  }
  const busiest = Math.max(0, ...Object.values(plan.perSource));
  if (busiest > maxPerSource) {
    throw new PlanError(
      `${count} connections over ${Math.max(1, sources.length)} source address(es) puts ${busiest} on one source, ` +
        `above ${maxPerSource} (ephemeral ports per source → destination pair run out near 28,000); ` +
        `use --sources ${Math.ceil(count / maxPerSource)} or more`,
    );
  }
  if (sources.length > 0 && busiest > ports.hi - ports.lo) {
    throw new PlanError(
      `${busiest} connections on one source address, but only ${ports.hi - ports.lo} ports ` +
        `(${ports.lo}–${ports.hi - 1}) lie below the kernel's ephemeral range to bind them to; ` +
        `use --sources ${Math.ceil(count / (ports.hi - ports.lo))} or more`,
    );
  }
  return plan;
}

/** `count` loopback addresses from `base` on (127.0.0.2, 127.0.0.3, …); refuses to leave 127.0.0.0/8. */
export function loopbackSources(count: number, base = '127.0.0.2'): string[] {
  const parts = base.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255) || parts[0] !== 127) {
    throw new PlanError(`--source-base must be an IPv4 address in 127.0.0.0/8 (got ${base})`);
  }
  const start = ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = start + i;
    if (n >= 0xffffff) throw new PlanError(`--sources ${count} from ${base} runs past 127.255.255.254`);
    out.push(`127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  }
  return out;
}

/**
 * Sources for a count: the number asked for, or (0 = auto) as few as keep each under the per-source cap, and
 * none at all while one source is enough. Without a source address to bind, connect() picks the local port
 * for its destination, and on loopback may reuse one still in TIME_WAIT (tcp_tw_reuse): a bound source needs
 * a port free on every destination, and runs that follow each other within a minute (bench's) left the
 * ports below the ephemeral range all in TIME_WAIT, so generators fell back to the kernel's slow search.
 */
export function autoSources(
  count: number,
  asked: number,
  base: string,
  maxPerSource = DEFAULT_MAX_PER_SOURCE,
): string[] {
  if (asked === 0 && count <= maxPerSource) return [];
  const n = asked > 0 ? asked : Math.ceil(count / maxPerSource);
  return loopbackSources(n, base);
}

/** Processes for a count: the number asked for, or (0 = auto) as few as keep each under the per-process cap. */
export function autoProcs(count: number, asked: number, maxPerProc = DEFAULT_MAX_PER_PROC): number {
  return asked > 0 ? asked : Math.max(1, Math.ceil(count / maxPerProc));
}
