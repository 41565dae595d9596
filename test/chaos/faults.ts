// The faults of the chaos test (issue 5), each against a real LocalCluster and each ending when the cluster is
// whole again (every node registered in etcd), so the next fault starts from a known state. Each returns a
// line for the run's log with how long the recovery took.
import { setTimeout as pause } from 'node:timers/promises';
import { ETCD_DIRS, type ClusterNode, type ClusterRole, type LocalCluster } from '../support/cluster.js';
import { waitFor } from '../support/servers.js';

export type FaultName = 'kill-worker' | 'kill-dispatcher' | 'restart-redis' | 'restart-etcd' | 'pause-worker';
export const ALL_FAULTS: FaultName[] = [
  'kill-worker',
  'kill-dispatcher',
  'restart-redis',
  'restart-etcd',
  'pause-worker',
];

const since = (t: number) => `${Date.now() - t} ms`;

/** Until every node the cluster runs has its key in etcd (re-registration after etcd or a lease loss). */
export async function whole(cluster: LocalCluster, timeoutMs = 30_000): Promise<void> {
  const keys = [...cluster.nodes.values()].map((n) => `${ETCD_DIRS[n.role]}${n.id}`);
  await waitFor(
    'every node to be registered in etcd',
    async () => {
      const entries = await cluster.etcdEntries();
      return keys.every((k) => entries.has(k));
    },
    timeoutMs,
    100,
  );
}

/** The role's node that was started first among those still running (the one a fault picks). */
function victim(cluster: LocalCluster, role: ClusterRole, skip = 0): ClusterNode {
  const node = cluster.nodesOf(role)[skip];
  if (!node) throw new Error(`no ${role} left to fault`);
  return node;
}

/** SIGKILL: a crash. Its lease runs out, dispatchers sweep its registry entries, a new node takes its place. */
async function kill(cluster: LocalCluster, role: 'worker' | 'dispatcher', probe: Probe): Promise<string> {
  const node = victim(cluster, role);
  const t = Date.now();
  await cluster.kill(node.id, 'SIGKILL');
  const probed = probe();
  const added = await cluster.startNode(role);
  await probed;
  return `SIGKILL ${node.id}; ${added.id} ready after ${since(t)}`;
}

/**
 * Sends into the fault at its worst moment (started there, awaited before the fault returns): the messages
 * that would go missing silently if a recovery path left a gap, since nothing is sent after them.
 */
export type Probe = () => Promise<void>;

export interface FaultOptions {
  leaseTtlSeconds: number; // the cluster's: how long a frozen worker takes to leave etcd
  /**
   * How long a frozen worker stays frozen after leaving etcd (default 1_000). Under the dispatchers' sweep
   * delay (3 s) its registry entries survive and pushes queue on its stream; past it they are swept and the
   * worker has to notice that when it wakes (registry checkpoint).
   */
  frozenPastLeaseMs?: number;
  probe?: Probe;
}

export async function runFault(
  cluster: LocalCluster,
  fault: FaultName,
  options: FaultOptions,
): Promise<string> {
  const { leaseTtlSeconds, frozenPastLeaseMs = 1_000, probe = async () => undefined } = options;
  const t = Date.now();
  switch (fault) {
    case 'kill-worker':
      return kill(cluster, 'worker', probe);
    case 'kill-dispatcher':
      return kill(cluster, 'dispatcher', probe);
    case 'restart-redis': {
      // Registry, sequences, bans and rate counters are all gone; workers put their connections back.
      await cluster.redis.restart({ flush: true });
      const up = since(t);
      await probe();
      return `Redis restarted empty in ${up}`;
    }
    case 'restart-etcd': {
      // A member replaced by an empty one: every lease and key is gone until the nodes register again.
      await cluster.etcd.restart({ wipeData: true });
      const up = since(t);
      const probed = probe();
      await whole(cluster);
      await probed;
      return `etcd restarted wiped in ${up}; every node registered again after ${since(t)}`;
    }
    case 'pause-worker': {
      // Frozen past its lease (a long GC pause, a stopped VM): it leaves etcd, dispatchers sweep its
      // entries, and then it wakes up holding sockets that missed pushes.
      const node = victim(cluster, 'worker', 1);
      const key = `${ETCD_DIRS.worker}${node.id}`;
      node.proc.kill('SIGSTOP');
      try {
        await waitFor(
          `${node.id}'s lease to expire`,
          async () => !(await cluster.etcdEntries()).has(key),
          leaseTtlSeconds * 1000 + 5_000,
          100,
        );
        const gone = since(t);
        const probed = probe(); // pushes meant for its clients while it is out of etcd
        await pause(frozenPastLeaseMs);
        node.proc.kill('SIGCONT');
        await whole(cluster);
        await probed;
        return `SIGSTOP ${node.id}: gone from etcd after ${gone}, SIGCONT ${frozenPastLeaseMs} ms later; registered again after ${since(t)}`;
      } finally {
        node.proc.kill('SIGCONT');
      }
    }
  }
}

/**
 * Restarts every worker in turn as a deploy would: SIGTERM, wait for it to exit by itself, start it again under
 * the same id, wait until it is ready. Returns one line per worker; throws if one does not exit with 0.
 */
export async function rollWorkers(cluster: LocalCluster, graceSeconds: number): Promise<string[]> {
  const lines: string[] = [];
  for (const node of cluster.nodesOf('worker')) {
    const t = Date.now();
    // proc.stop would SIGKILL after its bound; the bound is far past the grace period, so an exit in time
    // is the worker's own doing.
    await cluster.kill(node.id, 'SIGTERM');
    const exitMs = Date.now() - t;
    const code = node.proc.child.exitCode;
    if (code !== 0 || exitMs > graceSeconds * 1000 + 1_000) {
      throw new Error(
        `${node.id} exited with ${code} after ${exitMs} ms:\n${node.proc.output().slice(-3_000)}`,
      );
    }
    await cluster.startNode('worker', { id: node.id });
    lines.push(`${node.id}: SIGTERM → exit 0 in ${exitMs} ms; ready again after ${since(t)}`);
  }
  return lines;
}
