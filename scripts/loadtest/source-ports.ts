// The local port of every connection that binds a loopback source address, chosen by the generator instead
// of the kernel. bind(address, 0) before connect() makes the kernel search its bind table for a free port,
// and that search grows with every port already taken on the box, TIME_WAIT ones included: with the ~10,000
// sockets a previous 5,000-connection run left in TIME_WAIT, `perf` showed 57 % of both cores in
// inet_csk_get_port and its bhash2 conflict checks, and the open rate fell from 2,000/s to 1,200/s. A bind to
// a given port is one lookup.
//
// The ports come from below the kernel's ephemeral range (1024 up to ip_local_port_range's low end), so the
// kernel's own picks for outgoing connections never meet them. Each generator owns a disjoint slice of that
// range on each source, sized to its share of that source's connections, and skips the ports that were
// taken when it started (live sockets, TIME_WAIT left by an earlier run, listeners).
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { DEFAULT_PORTS, FIRST_BINDABLE_PORT, type Plan, type PortRange } from './plan.js';

/** Ports a generator may bind on its source addresses: from 1024 up to the kernel's ephemeral range. */
export function bindablePorts(readFile = (path: string) => readFileSync(path, 'utf8')): PortRange {
  let low = DEFAULT_PORTS.hi;
  try {
    const first = Number(readFile('/proc/sys/net/ipv4/ip_local_port_range').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > FIRST_BINDABLE_PORT) low = first;
  } catch {
    // not Linux: the kernel default
  }
  return { lo: FIRST_BINDABLE_PORT, hi: low };
}

/**
 * This generator's slice of the bindable ports on each of its sources. The generators sharing a source get
 * consecutive slices in proportion to their connections on it, so every slice holds its generator's
 * connections whenever the range holds the source's (splitPlan checks that).
 */
export function portSlices(plan: Plan, proc: number): Map<string, PortRange> {
  const { lo, hi } = plan.ports;
  const slices = new Map<string, PortRange>();
  for (const source of plan.sources) {
    const total = plan.perSource[source] ?? 0;
    let before = 0;
    for (const p of plan.procs) {
      if (p.index >= proc) break;
      before += p.perSource[source] ?? 0;
    }
    const mine = plan.procs[proc]?.perSource[source] ?? 0;
    if (mine === 0 || total === 0) continue;
    const at = (n: number) => lo + Math.floor(((hi - lo) * n) / total);
    slices.set(source, { lo: at(before), hi: at(before + mine) });
  }
  return slices;
}

/** `a.b.c.d` as /proc/net/tcp prints it: the 32-bit value in the machine's byte order, 8 hex digits. */
function procHex(address: string): string {
  const bytes = address.split('.').map((n) => Number(n).toString(16).toUpperCase().padStart(2, '0'));
  return (endianness() === 'LE' ? bytes.reverse() : bytes).join('');
}

/**
 * Ports taken on `addresses` (any TCP state) or on a wildcard address (a listener on 0.0.0.0 or :: takes
 * the port on every address), read from /proc/net/tcp and tcp6. Keys are `address:port`; wildcard ones are
 * `*:port`.
 */
export function portsTaken(
  addresses: string[],
  readFile = (path: string) => readFileSync(path, 'utf8'),
): Set<string> {
  const wanted = new Map(addresses.map((a) => [procHex(a), a]));
  const taken = new Set<string>();
  for (const path of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFile(path);
    } catch {
      continue; // no IPv6, or not Linux
    }
    for (const line of text.split('\n')) {
      const local = line.trim().split(/\s+/)[1];
      if (local === undefined || !local.includes(':')) continue;
      const [hex, portHex] = local.split(':') as [string, string];
      const port = parseInt(portHex, 16);
      if (/^0+$/.test(hex)) taken.add(`*:${port}`);
      else {
        const address = wanted.get(hex);
        if (address !== undefined) taken.add(`${address}:${port}`);
      }
    }
  }
  return taken;
}

/** Hands out this generator's ports on each source, in turn, skipping the taken ones. */
export class SourcePorts {
  private readonly cursors = new Map<string, PortRange & { next: number }>();

  constructor(
    slices: Map<string, PortRange>,
    private readonly taken: Set<string>,
  ) {
    for (const [source, slice] of slices) this.cursors.set(source, { ...slice, next: slice.lo });
  }

  /**
   * The next free port of the slice for `source`, or 0 (the kernel picks, the slow way) when the slice has
   * none left: a run started within a minute of one that used most of the same slice finds it in TIME_WAIT.
   * A connection opened again (a worker at its cap answered 503) takes a new port, as its first one may be
   * in TIME_WAIT too.
   */
  next(source: string): number {
    const c = this.cursors.get(source);
    if (c === undefined) return 0;
    while (c.next < c.hi) {
      const port = c.next++;
      if (!this.taken.has(`${source}:${port}`) && !this.taken.has(`*:${port}`)) return port;
    }
    return 0;
  }
}

/** The ports of generator `proc` of `plan`, skipping those taken on its sources right now. */
export function generatorPorts(plan: Plan, proc: number): SourcePorts {
  const slices = portSlices(plan, proc);
  return new SourcePorts(slices, slices.size > 0 ? portsTaken([...slices.keys()]) : new Set());
}
