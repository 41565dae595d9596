import type { NodeRole } from '../discovery/discovery.js';
import type { WindowSnapshot } from './rate-window.js';

// GET /internal/v1/stats on every node (internal key): what the admin dashboard shows per node. Discovery
// values are fixed by DESIGN §5 ({id, http} for dispatchers and business), so uptime and traffic come from
// the nodes themselves rather than from etcd.

export const STATS_PATH = '/internal/v1/stats';

export interface NodeStats {
  id: string;
  role: NodeRole;
  startedAt: number; // ms since the epoch
  uptimeSeconds: number;
  /** Open client connections (workers). */
  connections?: number;
  /** Recent traffic: messages sent (business), items dispatched (dispatcher), frames delivered (worker). */
  window: WindowSnapshot;
}

export function nodeStats(
  node: { id: string; role: NodeRole; startedAt: number },
  window: WindowSnapshot,
  connections?: number,
): NodeStats {
  const uptimeSeconds = Math.max(0, Math.round((Date.now() - node.startedAt) / 1000));
  const stats: NodeStats = { ...node, uptimeSeconds, window };
  if (connections !== undefined) stats.connections = connections;
  return stats;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Guard for a stats answer from another node (another version may answer something else). */
export function isNodeStats(v: unknown): v is NodeStats {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.startedAt !== 'number') return false;
  const w = v.window;
  return isObject(w) && typeof w.stepMs === 'number' && Array.isArray(w.points);
}

/** Asks one node for its stats; rejects on a network error, a timeout, a non-200 or a malformed answer. */
export async function fetchStats(baseUrl: string, key: string, timeoutMs: number): Promise<NodeStats> {
  const res = await fetch(new URL(STATS_PATH, baseUrl), {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`${baseUrl} answered ${res.status}`);
  const body: unknown = await res.json();
  if (!isNodeStats(body)) throw new Error(`${baseUrl} answered malformed stats`);
  return body;
}
