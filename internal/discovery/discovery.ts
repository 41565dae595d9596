// Which nodes are alive. DESIGN §5: etcd `/courier/workers/{id}` → {id, grpc, ws, conns, startedAt},
// `/courier/dispatchers/{id}` → {id, http}, `/courier/business/{id}` → {id, http}, each under the node's own
// lease. The static implementation serves the all-in-one and fixed lists from config.

export type NodeRole = 'worker' | 'dispatcher' | 'business';

export interface WorkerNode {
  role: 'worker';
  id: string;
  /** host:port of the worker's gRPC server. */
  grpc: string;
  /** Public WebSocket URL clients connect to, e.g. ws://127.0.0.1:8090/ws. */
  ws: string;
  conns: number;
  /**
   * Connections the worker accepts at most (worker.maxConnections). Known only in-process (static discovery,
   * the all-in-one): DESIGN §5 fixes the etcd value, so in a cluster the gateway does not see caps and a full
   * worker answers the upgrade with 503, after which the client asks the gateway again.
   */
  maxConns?: number;
  startedAt: number;
}

export interface DispatcherNode {
  role: 'dispatcher';
  id: string;
  /** Base URL of the dispatcher's internal HTTP API. */
  http: string;
}

export interface BusinessNode {
  role: 'business';
  id: string;
  http: string;
}

export type NodeInfo = WorkerNode | DispatcherNode | BusinessNode;
export type NodeOf<R extends NodeRole> = Extract<NodeInfo, { role: R }>;

export interface Registration {
  /** Replaces the published value (e.g. a worker's connection count) under the same lease. */
  update(node: NodeInfo): Promise<void>;
  /** Removes the key at once (revokes the lease) so that nobody routes here any more. */
  revoke(): Promise<void>;
}

export interface Discovery {
  /** Publishes this node and keeps it alive until revoked or the process dies. */
  register(node: NodeInfo): Promise<Registration>;
  /** The live nodes of a role now. */
  list<R extends NodeRole>(role: R): Promise<NodeOf<R>[]>;
  /**
   * Calls `onChange` with the full list of live nodes of a role now and after every change.
   * Returns a function that stops watching.
   */
  watch<R extends NodeRole>(role: R, onChange: (nodes: NodeOf<R>[]) => void): Promise<() => void>;
  /** True when the backend answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
