import { readFileSync } from 'node:fs';

// Every held WebSocket is an open file, and a worker that runs out of files fails accept() with EMFILE: its
// clients see resets with no explanation. The worker therefore caps its connections below the process's
// open-files limit. Node has no getrlimit(), so the limit comes from /proc (Linux only). Node raises its soft
// limit to the hard one as it starts, so what is read here is in effect the hard limit.

/** Files the worker keeps for itself beside its sockets: Redis, etcd, gRPC, HTTP scrapes, logs, refusals. */
export const RESERVED_FILES = 256;

/**
 * The soft "Max open files" limit in the text of /proc/<pid>/limits; null when the line is missing or
 * unreadable, or the limit is `unlimited`.
 */
export function parseOpenFilesLimit(text: string): number | null {
  const match = /^Max open files\s+(\S+)\s+\S+/m.exec(text);
  if (!match?.[1] || !/^\d+$/.test(match[1])) return null;
  const soft = Number(match[1]);
  return Number.isSafeInteger(soft) ? soft : null;
}

/** This process's soft open-files limit, or null where /proc/self/limits cannot be read (not Linux). */
export function readOpenFilesLimit(path = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null; // no /proc: the worker runs without a derived cap, as before this limit existed
  }
  return parseOpenFilesLimit(text);
}

export interface ConnectionCap {
  /** Connections the worker holds at most; null = no cap. */
  max: number | null;
  /** Where the number comes from, for the start-up log line. */
  source: 'config' | 'open-files limit' | 'none';
}

/**
 * `worker.maxConnections` as configured (0 = derived): the configured number, or the soft open-files limit
 * minus RESERVED_FILES (at least 1), or no cap when the limit is unknown.
 */
export function connectionCap(configured: number, openFiles: number | null): ConnectionCap {
  if (configured > 0) return { max: configured, source: 'config' };
  if (openFiles === null) return { max: null, source: 'none' };
  return { max: Math.max(1, openFiles - RESERVED_FILES), source: 'open-files limit' };
}
