import type { Discovery, NodeInfo, NodeOf, NodeRole, Registration } from './discovery.js';

type Listener = (nodes: NodeInfo[]) => void;

/**
 * Discovery without a backend: nodes given in config plus nodes registered in this process (the all-in-one
 * shares one instance between its roles). Registration ends only by revoke or process exit. Nodes are kept
 * as copies, like etcd keeps their JSON: a worker that changes its own object before calling update() must
 * not change what watchers saw before (they compare counts to notice a new one).
 */
export class StaticDiscovery implements Discovery {
  private readonly nodes = new Map<string, NodeInfo>(); // key: role/id
  private readonly listeners = new Map<NodeRole, Set<Listener>>();

  constructor(initial: NodeInfo[] = []) {
    for (const node of initial) this.nodes.set(`${node.role}/${node.id}`, node);
  }

  async register(node: NodeInfo): Promise<Registration> {
    const key = `${node.role}/${node.id}`;
    this.nodes.set(key, { ...node });
    this.emit(node.role);
    let revoked = false;
    return {
      update: async (next) => {
        if (revoked) return;
        this.nodes.set(key, { ...next });
        this.emit(next.role);
      },
      revoke: async () => {
        if (revoked) return;
        revoked = true;
        this.nodes.delete(key);
        this.emit(node.role);
      },
    };
  }

  async list<R extends NodeRole>(role: R): Promise<NodeOf<R>[]> {
    return this.snapshot(role) as NodeOf<R>[];
  }

  async watch<R extends NodeRole>(role: R, onChange: (nodes: NodeOf<R>[]) => void): Promise<() => void> {
    const listener = onChange as Listener;
    let set = this.listeners.get(role);
    if (!set) this.listeners.set(role, (set = new Set()));
    set.add(listener);
    listener(this.snapshot(role));
    return () => set.delete(listener);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private snapshot(role: NodeRole): NodeInfo[] {
    return [...this.nodes.values()].filter((n) => n.role === role);
  }

  private emit(role: NodeRole): void {
    const nodes = this.snapshot(role);
    for (const listener of this.listeners.get(role) ?? []) listener(nodes);
  }
}
