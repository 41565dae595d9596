import type { Discovery, NodeInfo } from '../discovery/discovery.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { fetchStats, type NodeStats } from '../metrics/node-stats.js';
import { mergeWindows, summarize, type WindowSnapshot } from '../metrics/rate-window.js';
import type { ClusterAnswer, ClusterNodeView, TrafficPoint } from './cluster-answer.js';

// The admin dashboard's cluster view: every node discovery lists, each asked for its own stats (uptime,
// connections, recent traffic) over its internal HTTP endpoint, and the traffic of all nodes of a role
// added up step by step. A node that does not answer is still listed, marked unreachable.

const STATS_TIMEOUT_MS = 1_500; // per node; the page refreshes every few seconds
const SUMMARY_MS = 60_000; // "the last minute" of the summary figures

export interface ClusterViewDeps {
  discovery: Discovery;
  internalKey: string;
  /** This business node's own stats, read locally rather than over HTTP. */
  self: () => NodeStats;
  logger: Logger;
}

export class ClusterView {
  constructor(private readonly deps: ClusterViewDeps) {}

  async view(): Promise<ClusterAnswer> {
    const { discovery } = this.deps;
    const [business, dispatchers, workers] = await Promise.all([
      discovery.list('business'),
      discovery.list('dispatcher'),
      discovery.list('worker'),
    ]);
    const listed: NodeInfo[] = [...business, ...dispatchers, ...workers];
    const answers = await Promise.allSettled(listed.map((node) => this.statsOf(node)));
    const windows: Record<NodeInfo['role'], WindowSnapshot[]> = { business: [], dispatcher: [], worker: [] };
    const nodes = listed.map((node, i): ClusterNodeView => {
      const answer = answers[i] as PromiseSettledResult<NodeStats>;
      const address = node.role === 'worker' ? node.ws : node.http;
      if (answer.status === 'rejected') {
        const error = errorMessage(answer.reason);
        this.deps.logger.debug({ node: node.id, err: error }, 'node stats unavailable');
        const connections = node.role === 'worker' ? node.conns : null;
        const startedAt = node.role === 'worker' && node.startedAt > 0 ? node.startedAt : null;
        const uptimeSeconds = startedAt === null ? null : Math.round((Date.now() - startedAt) / 1000);
        return {
          id: node.id,
          role: node.role,
          address,
          reachable: false,
          startedAt,
          uptimeSeconds,
          connections,
          error,
        };
      }
      const stats = answer.value;
      windows[node.role].push(stats.window);
      return {
        id: node.id,
        role: node.role,
        address,
        reachable: true,
        startedAt: stats.startedAt,
        uptimeSeconds: stats.uptimeSeconds,
        connections: stats.connections ?? null,
      };
    });
    return { now: Date.now(), nodes, traffic: traffic(windows) };
  }

  private statsOf(node: NodeInfo): Promise<NodeStats> {
    const self = this.deps.self();
    if (node.role === 'business' && node.id === self.id) return Promise.resolve(self);
    return fetchStats(statsBase(node), this.deps.internalKey, STATS_TIMEOUT_MS);
  }
}

/** The HTTP base a node answers /internal/v1/stats on: a worker's is its WebSocket server. */
function statsBase(node: NodeInfo): string {
  if (node.role !== 'worker') return node.http;
  const url = new URL(node.ws);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '/';
  url.search = '';
  return url.toString();
}

function traffic(windows: Record<NodeInfo['role'], WindowSnapshot[]>): ClusterAnswer['traffic'] {
  const all = [...windows.business, ...windows.dispatcher, ...windows.worker];
  const stepMs = all[0]?.stepMs ?? 5_000;
  const series = {
    in: mergeWindows(windows.business, stepMs),
    dispatched: mergeWindows(windows.dispatcher, stepMs),
    delivered: mergeWindows(windows.worker, stepMs),
  };
  const points = new Map<number, TrafficPoint>();
  const at = (t: number) => {
    let p = points.get(t);
    if (!p) {
      p = { t, messagesIn: null, sendP99Ms: null, dispatched: null, delivered: null, deliveryP99Ms: null };
      points.set(t, p);
    }
    return p;
  };
  for (const s of series.in) Object.assign(at(s.t), { messagesIn: s.perSecond, sendP99Ms: s.p99Ms });
  for (const s of series.dispatched) at(s.t).dispatched = s.perSecond;
  for (const s of series.delivered)
    Object.assign(at(s.t), { delivered: s.perSecond, deliveryP99Ms: s.p99Ms });
  const now = Date.now();
  const since = now - SUMMARY_MS;
  const sent = summarize(windows.business, since, now);
  const delivered = summarize(windows.worker, since, now);
  return {
    stepSeconds: stepMs / 1000,
    points: [...points.values()].sort((a, b) => a.t - b.t),
    lastMinute: {
      messagesIn: sent.perSecond,
      sendP99Ms: sent.p99Ms,
      delivered: delivered.perSecond,
      deliveryP99Ms: delivered.p99Ms,
    },
  };
}
