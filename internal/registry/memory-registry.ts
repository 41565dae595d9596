import type { ConnectionInfo, ConnectionRef, Registry, RegistryEntry } from './registry.js';

/**
 * In-process registry for the all-in-one. It stores the same JSON strings the Redis registry would, so a
 * bug in encoding shows up here too, and it cannot be shared across processes.
 */
export class MemoryRegistry implements Registry {
  private readonly users = new Map<string, Map<string, string>>();
  private readonly markers = new Set<string>(); // worker ids that called checkpoint()

  async add(entries: RegistryEntry[]): Promise<void> {
    for (const { uid, connId, info } of entries) {
      let fields = this.users.get(uid);
      if (!fields) this.users.set(uid, (fields = new Map()));
      fields.set(connId, JSON.stringify(info));
    }
  }

  async remove(refs: ConnectionRef[]): Promise<void> {
    for (const { uid, connId } of refs) {
      const fields = this.users.get(uid);
      if (!fields) continue;
      fields.delete(connId);
      if (fields.size === 0) this.users.delete(uid);
    }
  }

  async lookup(uids: string[]): Promise<Map<string, Map<string, ConnectionInfo>>> {
    const out = new Map<string, Map<string, ConnectionInfo>>();
    for (const uid of uids) {
      const fields = this.users.get(uid);
      if (!fields || out.has(uid)) continue;
      const conns = new Map<string, ConnectionInfo>();
      for (const [connId, value] of fields) conns.set(connId, JSON.parse(value) as ConnectionInfo);
      out.set(uid, conns);
    }
    return out;
  }

  async refresh(entries: RegistryEntry[]): Promise<void> {
    // Nothing expires in memory; re-adding keeps the same healing behaviour as the Redis registry.
    await this.add(entries);
  }

  async removeWorker(workerId: string, uids?: string[]): Promise<number> {
    let removed = 0;
    for (const uid of uids ?? [...this.users.keys()]) {
      const fields = this.users.get(uid);
      if (!fields) continue;
      for (const [connId, value] of fields) {
        if ((JSON.parse(value) as ConnectionInfo).worker === workerId) {
          fields.delete(connId);
          removed++;
        }
      }
      if (fields.size === 0) this.users.delete(uid);
    }
    this.markers.delete(workerId);
    return removed;
  }

  async checkpoint(workerId: string): Promise<boolean> {
    // Memory never loses data behind the worker's back, so only the first call and removeWorker count.
    const missing = !this.markers.has(workerId);
    this.markers.add(workerId);
    return missing;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.users.clear();
    this.markers.clear();
  }
}
