// Real redis-server processes for tests: a standalone server and a 3-master cluster, each on free ports,
// without persistence, torn down explicitly by the caller.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinary, freePort, spawnServer, tempDir, waitFor, type Spawned } from './servers.js';

export interface StandaloneRedis {
  url: string;
  port: number;
  /** The server's current process id (benchmarks read its CPU time from /proc). */
  readonly pid: number;
  /**
   * Kills the server (SIGKILL, like a crash) and starts it again on the same port; waits for PING. With
   * `flush` (the default) it comes back empty, as Redis without persistence would; without, it first SAVEs
   * and comes back with its data.
   */
  restart(options?: { flush: boolean }): Promise<void>;
  /** Runs one command with redis-cli and returns its raw output (for assertions that bypass ioredis). */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

export interface RedisClusterServers {
  /** Seed nodes, `127.0.0.1:port`, one per master. */
  nodes: string[];
  stop(): Promise<void>;
}

function ensureRedis(): void {
  ensureBinary('redis-server', 'redis-server');
  ensureBinary('redis-cli', 'redis-tools');
}

function cli(port: number, args: string[]): string {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `redis-cli -p ${port} ${args.join(' ')} failed: ${result.stderr || String(result.error)}`,
    );
  }
  return result.stdout.trim();
}

function launch(port: number, dir: string, extra: string[] = []): Spawned {
  return spawnServer('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra,
  ]);
}

async function waitUntilUp(server: Spawned, port: number): Promise<void> {
  await waitFor(`redis-server on port ${port}`, () => {
    if (server.child.exitCode !== null) {
      throw new Error(`redis-server exited (${server.child.exitCode}): ${server.output()}`);
    }
    return cli(port, ['PING']) === 'PONG';
  });
}

export async function startRedis(): Promise<StandaloneRedis> {
  ensureRedis();
  const dir = tempDir('redis');
  const port = await freePort();
  let server = launch(port, dir.path);
  await waitUntilUp(server, port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return server.child.pid as number;
    },
    cli: (...args) => cli(port, args),
    restart: async ({ flush } = { flush: true }) => {
      if (!flush) cli(port, ['SAVE']); // dump.rdb in the data dir, loaded again at start
      server.kill('SIGKILL');
      await server.exited;
      if (flush) rmSync(join(dir.path, 'dump.rdb'), { force: true });
      // The port was ours a moment ago; if another process grabs it in between, the start fails loudly here
      // rather than pointing the test at a stranger.
      server = launch(port, dir.path);
      await waitUntilUp(server, port);
    },
    stop: async () => {
      await server.stop();
      dir.remove();
    },
  };
}

/** Three masters, no replicas, slots split evenly by `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<RedisClusterServers> {
  ensureRedis();
  const dir = tempDir('redis-cluster');
  const servers: Spawned[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    dir.remove();
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      // Each node keeps its own nodes.conf, so the three need separate directories.
      const nodeDir = join(dir.path, String(port));
      mkdirSync(nodeDir);
      const server = launch(port, nodeDir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
      ]);
      servers.push(server);
      ports.push(port);
    }
    await Promise.all(servers.map((server, i) => waitUntilUp(server, ports[i] as number)));
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    }
    // Every node must agree the cluster is up and know all three masters before a client may rely on it.
    await waitFor('redis cluster_state:ok on every node', () =>
      ports.every((port) => {
        const info = cli(port, ['CLUSTER', 'INFO']);
        return info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3');
      }),
    );
    return { nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
