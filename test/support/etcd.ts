// A real single-member etcd for tests, on free ports with its own data dir.
import { rmSync } from 'node:fs';
import { ensureBinary, freePort, spawnServer, tempDir, uniqueId, waitFor, type Spawned } from './servers.js';

export interface EtcdServer {
  /** Client URL, e.g. http://127.0.0.1:23791. */
  endpoint: string;
  stop(): Promise<void>;
  /**
   * Stops etcd and starts it again on the same ports. The data dir is kept (leases and keys survive, as in a
   * real restart) unless `wipeData` is set, which models a member replaced by an empty one: every lease is gone.
   */
  restart(options?: { wipeData?: boolean }): Promise<void>;
}

export async function startEtcd(): Promise<EtcdServer> {
  ensureBinary('etcd', 'etcd-server');
  const clientPort = await freePort();
  const peerPort = await freePort();
  const dir = tempDir('etcd');
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const name = uniqueId('etcd');
  let server: Spawned | null = null;

  const launch = async (): Promise<void> => {
    const spawned = spawnServer('etcd', [
      '--name',
      name,
      '--data-dir',
      dir.path,
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `${name}=${peer}`,
      '--initial-cluster-token',
      name,
      '--initial-cluster-state',
      'new',
      '--log-level',
      'warn',
      '--logger',
      'zap',
    ]);
    server = spawned;
    let exited = false;
    void spawned.exited.then(() => (exited = true));
    try {
      await waitFor('etcd to answer /health', async () => {
        if (exited) throw new Error(`etcd exited: ${spawned.output().slice(-2000)}`);
        const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: unknown };
        return res.ok && body.health === 'true';
      });
    } catch (err) {
      spawned.kill();
      throw new Error(`etcd did not start on ${endpoint}: ${String(err)}\n${spawned.output().slice(-2000)}`);
    }
  };

  const halt = async (): Promise<void> => {
    await server?.stop();
    server = null;
  };

  await launch();
  return {
    endpoint,
    stop: async () => {
      await halt();
      dir.remove();
    },
    restart: async ({ wipeData = false } = {}) => {
      await halt();
      if (wipeData) rmSync(dir.path, { recursive: true, force: true });
      await launch();
    },
  };
}
