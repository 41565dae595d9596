// Server-side memory per connection: the RSS of the worker processes (from /proc, so it works for any
// process on this machine without its cooperation) and Redis `used_memory`, each read before and after.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { Redis } from 'ioredis';

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

/** Socket inodes listening on a TCP port, from /proc/net/tcp{,6}. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 on this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue; // 0A = LISTEN
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/**
 * The pid that listens on `port`. Only node processes running courier are searched, and their listening
 * sockets are opened first (low fd numbers), so the scan stops early even on a worker with 15,000 sockets.
 */
export function pidListeningOn(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  for (const pid of findPids(/dist\/cmd\//)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed while we looked
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1] as string)) return pid;
    }
  }
  return null;
}

/** Worker pids from the etcd keys `<prefix>workers/<id>` → `{ws}`: each ws port is mapped to its pid. */
export async function workerPidsFromEtcd(
  hosts: string[],
  prefix = '/courier/',
): Promise<{ pids: number[]; unresolved: string[] }> {
  const client = new Etcd3({ hosts });
  try {
    const values = await client.getAll().prefix(`${prefix}workers/`).strings();
    const pids = new Set<number>();
    const unresolved: string[] = [];
    for (const [key, value] of Object.entries(values)) {
      let ws = '';
      try {
        const parsed = JSON.parse(value) as { ws?: unknown };
        ws = typeof parsed.ws === 'string' ? parsed.ws : '';
      } catch {
        ws = ''; // not a worker record we understand; reported as unresolved below
      }
      const port = ws ? Number(new URL(ws).port || 80) : NaN;
      const pid = Number.isFinite(port) ? pidListeningOn(port) : null;
      if (pid === null) unresolved.push(key);
      else pids.add(pid);
    }
    return { pids: [...pids].sort((a, b) => a - b), unresolved };
  } finally {
    client.close();
  }
}

/** Server pids to measure: given, found through etcd, or found by command line (courier or the Socket.IO peer). */
export async function discoverPids(
  o: { workerPids: string; etcd: string; etcdPrefix: string; target: string },
  note: (text: string) => void,
): Promise<{ pids: number[]; how: string }> {
  const items = (s: string) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  if (o.workerPids)
    return {
      pids: items(o.workerPids)
        .map(Number)
        .filter((n) => n > 0),
      how: '--worker-pids',
    };
  if (o.etcd) {
    const found = await workerPidsFromEtcd(items(o.etcd), o.etcdPrefix);
    if (found.unresolved.length) note(`no local pid for etcd keys: ${found.unresolved.join(', ')}`);
    return { pids: found.pids, how: `etcd ${o.etcd}` };
  }
  const pattern = o.target === 'socketio' ? SOCKETIO_CMDLINE : WORKER_CMDLINE;
  return { pids: findPids(pattern), how: `command line /${pattern.source}/` };
}

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
