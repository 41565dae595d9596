// Server-side memory per connection: the RSS of the worker processes (from /proc, so it works for any
// process on this machine without its cooperation) and Redis `used_memory`, each read before and after.
// Also finds the server processes themselves (workers for RSS; every server process for CPU, see cpu.ts).
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { Redis } from 'ioredis';
import { list } from './args.js';

/** Resident set size in bytes, or null when the process is gone or unreadable. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null; // the process exited between discovery and measurement; the caller reports it as missing
  }
}

export function totalRss(pids: number[]): { bytes: number; missing: number[] } {
  let bytes = 0;
  const missing: number[] = [];
  for (const pid of pids) {
    const rss = rssBytes(pid);
    if (rss === null) missing.push(pid);
    else bytes += rss;
  }
  return { bytes, missing };
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** A short name for a server process in reports: its role (`worker`, `business`, …), or its command line. */
export function describePid(pid: number): string {
  const line = cmdline(String(pid)).trim();
  const role = /dist\/cmd\/(\w+)\/main\.js/.exec(line)?.[1];
  if (role) return role === 'courier' ? 'courier all-in-one' : role;
  if (SOCKETIO_CMDLINE.test(line))
    return / --child\b/.test(line) ? 'Socket.IO peer' : 'Socket.IO peer (primary)';
  return line.length > 60 ? `${line.slice(0, 57)}…` : line || '(gone)';
}

/** Pids whose command line matches, like `pgrep -f` but without needing procps installed. */
export function findPids(pattern: RegExp): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if (pattern.test(cmdline(name))) out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}

/** Worker processes as `pgrep -f dist/cmd/worker` finds them; the all-in-one counts as a worker too. */
export const WORKER_CMDLINE = /dist\/cmd\/(worker|courier)\/main\.js/;

/**
 * Socket inodes of listening TCP sockets by port, from /proc/net/tcp{,6}, read in chunks. Those files list
 * every TCP socket of the machine: at a million connections they are ~300 MB of text, and reading them whole
 * (once per node URL) took the push tool's memory to 1.3 GB, where the OOM killer ended it. The kernel lists
 * the listening sockets first, so with `listenersFirst` the read stops at the first line in another state.
 */
function listeners(listenersFirst: boolean, onlyPort?: number): Map<number, Set<string>> {
  const byPort = new Map<number, Set<string>>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    forEachLine(file, (line) => {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[0] === 'sl') return true; // the header
      if (cols[3] !== '0A') return !listenersFirst; // 0A = LISTEN
      const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (!cols[9] || (onlyPort !== undefined && port !== onlyPort)) return true;
      let inodes = byPort.get(port);
      if (!inodes) byPort.set(port, (inodes = new Set()));
      inodes.add(cols[9]);
      return true;
    });
  }
  return byPort;
}

/** Socket inodes listening on `port`; the whole files are scanned only when the listeners-first read finds none. */
export function listeningInodes(port: number): Set<string> {
  return listeners(true, port).get(port) ?? listeners(false, port).get(port) ?? new Set();
}

/** Calls `visit` with each line of a file until it returns false; a missing file has no lines. */
function forEachLine(file: string, visit: (line: string) => boolean): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // no IPv6 on this kernel
  }
  try {
    const chunk = Buffer.alloc(1 << 16);
    let rest = '';
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      const text = rest + chunk.toString('latin1', 0, n);
      const lines = text.split('\n');
      rest = n === 0 ? '' : (lines.pop() ?? '');
      for (const line of lines) if (line && !visit(line)) return;
      if (n === 0) return;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Which courier process listens on which port, for many ports at once: the listeners are read once, and the
 * socket each fd 0…255 of every courier process points at is read once. Listening sockets are opened at
 * start-up, so those low fds hold them; at a million connections each of 60 workers has ~17,000 fds, and
 * listing them all for every node URL kept the push tool busy for minutes. Only a port or a socket these
 * miss costs a full read (of the /proc/net files, or of every fd of every process).
 */
class PortOwners {
  private readonly pids = findPids(/dist\/cmd\//);
  private readonly listening = listeners(true);
  private lowFds: Map<string, number> | undefined; // socket inode → pid

  pidOf(port: number): number | null {
    const inodes = this.listening.get(port) ?? listeningInodes(port);
    if (inodes.size === 0) return null;
    const low = (this.lowFds ??= this.socketsOf(() => Array.from({ length: 256 }, (_, fd) => String(fd))));
    for (const inode of inodes) {
      const pid = low.get(inode);
      if (pid !== undefined) return pid;
    }
    const all = this.socketsOf((pid) => readdirSync(`/proc/${pid}/fd`), inodes);
    for (const inode of inodes) {
      const pid = all.get(inode);
      if (pid !== undefined) return pid;
    }
    return null;
  }

  /** Socket inode → pid over the given fds of every courier process (only `wanted` inodes, when given). */
  private socketsOf(fdsOf: (pid: number) => string[], wanted?: Set<string>): Map<string, number> {
    const owners = new Map<string, number>();
    for (const pid of this.pids) {
      let fds: string[];
      try {
        fds = fdsOf(pid);
      } catch {
        continue; // another user's process, or gone
      }
      for (const fd of fds) {
        let link = '';
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue; // no such fd, or closed while we looked
        }
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode === undefined || (wanted && !wanted.has(inode))) continue;
        owners.set(inode, pid);
        if (wanted) return owners; // the first process found holding one of them, as before
      }
    }
    return owners;
  }
}

/** A node record's URL (worker: its ws URL; business, dispatcher: their http URL); '' when it has none. */
export function urlOf(value: string, field: 'ws' | 'http'): string {
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    return typeof parsed[field] === 'string' ? parsed[field] : '';
  } catch {
    return ''; // not a node record we understand; reported as unresolved by the caller
  }
}

/** A lookup of the local pid serving a node record's URL (null when none here serves it). */
export function recordPids(): (record: string, field: 'ws' | 'http') => number | null {
  const owners = new PortOwners();
  return (record, field) => pidOfUrl(owners, record, field);
}

/** The local pid serving a node's URL. */
function pidOfUrl(owners: PortOwners, value: string, field: 'ws' | 'http'): number | null {
  const url = urlOf(value, field);
  try {
    return url ? owners.pidOf(Number(new URL(url).port || 80)) : null;
  } catch {
    return null; // not a URL
  }
}

/**
 * Pids of a cluster from its etcd keys: `<prefix>workers/<id>` → `{ws}` (the workers), and with `allRoles`
 * also `<prefix>dispatchers/<id>` and `<prefix>business/<id>` → `{http}`; each URL's port is mapped to its pid.
 */
export async function pidsFromEtcd(
  hosts: string[],
  prefix = '/courier/',
  allRoles = false,
): Promise<{ workers: number[]; all: number[]; unresolved: string[] }> {
  const client = new Etcd3({ hosts });
  try {
    const dirs: [string, 'ws' | 'http'][] = [['workers/', 'ws']];
    if (allRoles) dirs.push(['dispatchers/', 'http'], ['business/', 'http']);
    const workers = new Set<number>();
    const all = new Set<number>();
    const unresolved: string[] = [];
    const owners = new PortOwners();
    for (const [dir, field] of dirs) {
      const values = await client.getAll().prefix(`${prefix}${dir}`).strings();
      for (const [key, value] of Object.entries(values)) {
        const pid = pidOfUrl(owners, value, field);
        if (pid === null) unresolved.push(key);
        else {
          all.add(pid);
          if (field === 'ws') workers.add(pid);
        }
      }
    }
    return { workers: sorted(workers), all: sorted(all), unresolved };
  } finally {
    client.close();
  }
}

/** The WebSocket URLs of a cluster's workers, from their `<prefix>workers/<id>` keys, in key order. */
export async function workerUrlsFromEtcd(hosts: string[], prefix = '/courier/'): Promise<string[]> {
  const client = new Etcd3({ hosts });
  try {
    const values = await client.getAll().prefix(`${prefix}workers/`).strings();
    return Object.keys(values)
      .sort()
      .map((key) => urlOf(values[key] as string, 'ws'))
      .filter((url) => url !== '');
  } finally {
    client.close();
  }
}

export interface ServerPids {
  /** Worker processes (the all-in-one counts as one): RSS per connection. */
  pids: number[];
  how: string;
  /** Every server process (workers, business, dispatchers; the peer's processes): CPU per message. */
  cpuPids: number[];
  cpuHow: string;
}

/**
 * Server pids to measure: given, found through etcd, or found by command line (courier or the Socket.IO
 * peer). RSS is read from the workers; CPU from every server process, business and dispatchers included.
 * `--server-pids` names the CPU pids outright; with `--worker-pids` alone, CPU is read from those pids
 * (right for the all-in-one; a cluster's business and dispatchers then come from --etcd or --server-pids).
 */
export async function discoverPids(
  o: { workerPids: string; serverPids?: string; etcd: string; etcdPrefix: string; target: string },
  note: (text: string) => void,
  withCpu = true, // false: workers only (conns), no search for business and dispatchers
): Promise<ServerPids> {
  const numbers = (s: string) =>
    list(s)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  const given = o.serverPids ? { cpuPids: numbers(o.serverPids), cpuHow: '--server-pids' } : undefined;
  const fromEtcd = async () => {
    const found = await pidsFromEtcd(list(o.etcd), o.etcdPrefix, withCpu && given === undefined);
    if (found.unresolved.length) note(`no local pid for etcd keys: ${found.unresolved.join(', ')}`);
    return found;
  };
  if (o.workerPids) {
    const pids = numbers(o.workerPids);
    if (given) return { pids, how: '--worker-pids', ...given };
    if (!o.etcd || !withCpu) return { pids, how: '--worker-pids', cpuPids: pids, cpuHow: '--worker-pids' };
    const found = await fromEtcd();
    return { pids, how: '--worker-pids', cpuPids: union(pids, found.all), cpuHow: `etcd ${o.etcd}` };
  }
  if (o.etcd) {
    const found = await fromEtcd();
    const how = `etcd ${o.etcd}`;
    return { pids: found.workers, how, ...(given ?? { cpuPids: found.all, cpuHow: how }) };
  }
  const pattern = o.target === 'socketio' ? SOCKETIO_CMDLINE : WORKER_CMDLINE;
  const cpuPattern = o.target === 'socketio' ? SOCKETIO_CMDLINE : SERVER_CMDLINE;
  const pids = findPids(pattern);
  return {
    pids,
    how: `command line /${pattern.source}/`,
    ...(given ??
      (withCpu
        ? { cpuPids: findPids(cpuPattern), cpuHow: `command line /${cpuPattern.source}/` }
        : { cpuPids: pids, cpuHow: `command line /${pattern.source}/` })),
  };
}

const sorted = (pids: Iterable<number>) => [...pids].sort((a, b) => a - b);
const union = (a: number[], b: number[]) => sorted(new Set([...a, ...b]));

/** Every courier server process by command line: the all-in-one, workers, business and dispatchers. */
export const SERVER_CMDLINE = /dist\/cmd\/(worker|courier|business|dispatcher)\/main\.js/;

export const SOCKETIO_CMDLINE = /peers\/socketio-server\.js/;

/** Redis `INFO memory` used_memory in bytes. */
export async function redisUsedMemory(url: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    await redis.connect();
    const info = await redis.info('memory');
    const match = /^used_memory:(\d+)/m.exec(info);
    if (!match) throw new Error(`no used_memory in INFO memory from ${url}`);
    return Number(match[1]);
  } finally {
    redis.disconnect();
  }
}

export interface MemorySample {
  at: string;
  workerRssBytes: number | null;
  workerPids: number[];
  missingPids: number[];
  redisUsedBytes: number | null;
}

/** One reading of everything measured; a failing Redis read is reported as null, not a crashed run. */
export async function sampleMemory(
  pids: number[],
  redisUrl: string,
  warn: (text: string) => void,
): Promise<MemorySample> {
  const rss = pids.length ? totalRss(pids) : null;
  let redisUsedBytes: number | null = null;
  if (redisUrl) {
    try {
      redisUsedBytes = await redisUsedMemory(redisUrl);
    } catch (err) {
      warn(`redis INFO memory failed: ${(err as Error).message}`);
    }
  }
  return {
    at: new Date().toISOString(),
    workerRssBytes: rss ? rss.bytes : null,
    workerPids: pids,
    missingPids: rss ? rss.missing : [],
    redisUsedBytes,
  };
}

/** Bytes per connection between two samples; null when either side is unknown or nothing was opened. */
export function perConnection(before: number | null, after: number | null, conns: number): number | null {
  if (before === null || after === null || conns <= 0) return null;
  return Math.round((after - before) / conns);
}
