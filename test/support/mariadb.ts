// A real, throwaway MariaDB server for tests: fresh data dir in a temp folder, a free port, no config files
// read, torn down explicitly by the caller. Start one per test file; give each test its own database.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { ensureBinary, freePort, spawnServer, tempDir, waitFor } from './servers.js';

export interface MariaDb {
  port: number;
  /** The server's process id (benchmarks read its CPU time from /proc). */
  pid: number;
  /** URL of the server without a database (root, no password, 127.0.0.1). */
  serverUrl: string;
  /** Creates the database `name` when missing and returns its URL for `store.mysql.url`. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and deletes its data; safe to call twice. */
  stop(): Promise<void>;
}

const DB_NAME = /^[A-Za-z0-9_]{1,64}$/;
const isRoot = process.getuid?.() === 0;

function installDataDir(datadir: string, tmpdir: string): void {
  ensureBinary('mariadbd', 'mariadb-server');
  ensureBinary('mariadb-install-db', 'mariadb-server');
  // --auth-root-authentication-method=normal: root@127.0.0.1 with an empty password, usable over TCP
  // whichever OS user runs the tests.
  const result = spawnSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      // Its own temp dir: a mariadbd starting up deletes every `#sql*` file in its tmpdir, so two suites
      // bootstrapping at once in /tmp deleted each other's temporary tables ("Unknown table tmp_user_sys").
      `--tmpdir=${tmpdir}`,
      ...(isRoot ? ['--user=root'] : []),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) {
    throw new Error(`mariadb-install-db failed: ${result.stderr || result.stdout || String(result.error)}`);
  }
}

export interface MariaDbOptions {
  bufferPoolMb?: number | undefined; // InnoDB buffer pool (default 32: enough for any test's data)
}

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDb> {
  const dir = tempDir('mariadb');
  const datadir = join(dir.path, 'data');
  installDataDir(datadir, dir.path);
  const port = await freePort();
  const server = spawnServer('mariadbd', [
    '--no-defaults', // never pick up /etc/mysql: the test server must not depend on the machine's setup
    `--datadir=${datadir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir.path, 'mariadb.sock')}`,
    `--pid-file=${join(dir.path, 'mariadb.pid')}`,
    `--tmpdir=${dir.path}`,
    '--skip-name-resolve',
    '--skip-log-bin',
    `--innodb-buffer-pool-size=${options.bufferPoolMb ?? 32}M`,
    ...(isRoot ? ['--user=root'] : []), // mariadbd refuses to run as root otherwise
  ]);
  // If the test process dies without calling stop(), do not leave the server running.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);

  const serverUrl = `mysql://root@127.0.0.1:${port}`;
  const query = async (statement: string): Promise<void> => {
    const conn = await createConnection({ host: '127.0.0.1', port, user: 'root' });
    try {
      await conn.query(statement);
    } finally {
      await conn.end();
    }
  };
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      await server.stop(5_000);
      dir.remove();
    })();
    return stopped;
  };

  try {
    await waitFor(`mariadbd on port ${port}`, async () => {
      if (server.child.exitCode !== null) {
        throw new Error(`mariadbd exited (${server.child.exitCode}): ${server.output().slice(-2_000)}`);
      }
      await query('select 1');
      return true;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    port,
    pid: server.child.pid as number,
    serverUrl,
    stop,
    createDatabase: async (name) => {
      if (!DB_NAME.test(name)) throw new Error(`invalid database name ${name}`);
      await query(`create database if not exists \`${name}\``);
      return `${serverUrl}/${name}`;
    },
  };
}
