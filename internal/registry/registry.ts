import type { Role } from '../protocol/message.js';

// Where each user's connections live. DESIGN §5: Redis hash `courier:conn:{uid}`, one field per connection
// id (`role:platform:nonce`), value JSON {worker, ip, role, platform, channel, since}. The memory registry
// keeps the same shapes so that moving to Redis changes nothing above this interface.

export interface ConnectionInfo {
  worker: string;
  ip: string;
  role: Role;
  platform: string;
  channel: string;
  /** Connect time, ms since the epoch. */
  since: number;
}

export interface RegistryEntry {
  uid: string;
  connId: string;
  info: ConnectionInfo;
}

export interface ConnectionRef {
  uid: string;
  connId: string;
}

export interface Registry {
  /** Records connections (a worker batches the ones opened in the same tick). */
  add(entries: RegistryEntry[]): Promise<void>;
  /** Forgets connections; unknown ones are ignored. */
  remove(refs: ConnectionRef[]): Promise<void>;
  /**
   * Every connection of each uid. Uids with none are absent from the map. Distributed implementations
   * answer a whole batch in one round trip per backend node.
   */
  lookup(uids: string[]): Promise<Map<string, Map<string, ConnectionInfo>>>;
  /**
   * Re-puts these entries and extends their uids' expiry (called periodically by the worker holding them).
   * Because it re-creates missing fields, a registry that lost its data (Redis restarted empty) heals itself
   * without any client action.
   */
  refresh(entries: RegistryEntry[]): Promise<void>;
  /**
   * Removes every entry that names this worker (a worker restarting under a used id, or found dead), only in
   * the listed uids when given, then its checkpoint marker: a worker removed by mistake (alive but briefly
   * missing from discovery) sees the marker gone at its next checkpoint and puts its entries back.
   */
  removeWorker(workerId: string, uids?: string[]): Promise<number>;
  /**
   * Sets this worker's marker and answers true when it was missing: on the first call, after removeWorker,
   * and whenever the backend lost its data in between (Redis restarted empty or flushed). The worker then
   * re-puts every entry at once instead of waiting for its periodic refresh. A worker calls this every second
   * or so, so it is one small round trip; the marker expires like the entries when the worker stops calling.
   */
  checkpoint(workerId: string): Promise<boolean>;
  /** True when the backend answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
