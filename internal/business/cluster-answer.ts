// The answer of GET /admin/v1/cluster, shared by the business node that builds it (cluster-view.ts) and the
// admin page that draws it (web/admin): types only, so the browser bundle imports nothing of Node.
import type { NodeRole } from '../discovery/discovery.js';

export interface ClusterNodeView {
  id: string;
  role: NodeRole;
  /** Where the node serves: the internal HTTP base URL, or a worker's WebSocket URL. */
  address: string;
  reachable: boolean;
  startedAt: number | null;
  uptimeSeconds: number | null;
  connections: number | null;
  error?: string;
}

export interface TrafficPoint {
  t: number;
  messagesIn: number | null; // messages sent by business nodes, per second
  sendP99Ms: number | null;
  dispatched: number | null; // items dispatched, per second
  delivered: number | null; // message frames written by workers, per second
  deliveryP99Ms: number | null; // message timestamp → frame written
}

export interface ClusterAnswer {
  now: number;
  nodes: ClusterNodeView[];
  traffic: {
    stepSeconds: number;
    points: TrafficPoint[];
    /** Per second and p99 over the last minute, all nodes together. */
    lastMinute: {
      messagesIn: number;
      sendP99Ms: number | null;
      delivered: number;
      deliveryP99Ms: number | null;
    };
  };
}
