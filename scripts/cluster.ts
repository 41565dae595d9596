// `npm run cluster`: a whole courier cluster on this machine until Ctrl-C. redis-server, etcd and mariadbd from
// PATH on free ports with their data in temp folders, then 2 business, 2 dispatcher and 3 worker processes.
// `npm run cluster -- --workers 60` runs more workers (one process holds at most 20,000 sockets here, so a
// million connections need many); `--business N` and `--dispatchers N` likewise.
// It uses the launcher of the cluster tests (test/support/cluster.ts), so what they check is what runs here.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOAD_CLUSTER, LocalCluster, ROOT, type ClusterNode } from '../test/support/cluster.js';

const SUPERVISED = 'COURIER_CLUSTER_SUPERVISED';
// `--host 0.0.0.0` lets clients reach business and workers on any loopback address (load runs use that to
// spread connections over destination addresses; see `loadtest conns --spread`).
const HOST = process.argv.includes('--host')
  ? (process.argv[process.argv.indexOf('--host') + 1] ?? '')
  : '127.0.0.1';
const PREFERRED = { business: [8080, 8081], worker: [8090, 8091, 8092] }; // used when free
const BINARIES: [binary: string, debian: string, brew: string][] = [
  ['redis-server', 'redis-server', 'redis'],
  ['redis-cli', 'redis-tools', 'redis'],
  ['etcd', 'etcd-server', 'etcd'],
  ['mariadbd', 'mariadb-server', 'mariadb'],
  ['mariadb-install-db', 'mariadb-server', 'mariadb'],
];

const say = (text = '') => process.stdout.write(`${text}\n`);

const USAGE = `usage: npm run cluster -- [--workers N] [--business N] [--dispatchers N] [--host ADDRESS]

Starts redis-server, etcd and mariadbd on free ports, then the courier nodes (default 2 business,
2 dispatcher, 3 worker processes), and runs until Ctrl-C. Every COURIER_* variable in the environment
reaches every node (e.g. COURIER_WORKER_HEARTBEAT_SECONDS=240 for a long hold).

  --workers N      worker processes (one process holds at most 20,000 sockets here)
  --business N     business processes
  --dispatchers N  dispatcher processes; 0 = each business process runs its own dispatcher
                   (business.embedDispatcher: one process fewer per message)
  --host ADDRESS   listen address of business and workers (0.0.0.0 for loadtest conns --spread)
  --help           this text`;

const FLAGS = new Set(['--workers', '--business', '--dispatchers', '--host']);
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  say(USAGE);
  process.exit(0);
}
for (let i = 0; i < args.length; i += 2) {
  if (!FLAGS.has(args[i] ?? '')) {
    say(`unknown option "${args[i]}"\n\n${USAGE}`);
    process.exit(2);
  }
}

/** `--workers N` style counts from the command line; a bad value stops with the flag named. */
function count(flag: string, fallback: number, min = 1): number {
  const i = process.argv.indexOf(flag);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < min || value > 500) {
    say(`${flag} needs a whole number from ${min} to 500, not "${process.argv[i + 1] ?? ''}"`);
    process.exit(2);
  }
  return value;
}
const COUNTS = {
  business: count('--business', 2),
  dispatchers: count('--dispatchers', 2, 0),
  workers: count('--workers', 3),
};

/**
 * Ctrl-C signals the terminal's whole process group: the servers would die at once, under nodes that are still
 * deregistering from etcd. So the launcher runs detached, in a group of its own, and this parent turns Ctrl-C
 * into one SIGTERM for it; a second Ctrl-C kills the whole group.
 */
function supervise(): void {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [SUPERVISED]: '1' },
    },
  );
  let signals = 0;
  const forward = () => {
    if (++signals === 1) child.kill('SIGTERM');
    else if (child.pid) {
      say('\nforcing: killing every process of the cluster');
      process.kill(-child.pid, 'SIGKILL');
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

async function run(): Promise<void> {
  const missing = BINARIES.filter(([binary]) => spawnSync('sh', ['-c', `command -v ${binary}`]).status !== 0);
  if (missing.length > 0) {
    const debian = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    const brew = [...new Set(missing.map(([, , pkg]) => pkg))].join(' ');
    say(`npm run cluster needs ${missing.map(([b]) => b).join(', ')} on PATH. Install them with`);
    say(`  sudo apt-get install ${debian}    (Debian, Ubuntu)`);
    say(`  brew install ${brew}    (macOS)`);
    process.exitCode = 1;
    return process.disconnect?.();
  }
  const roles = ['business', 'dispatcher', 'worker', 'migrate'];
  const unbuilt = roles.filter((role) => !existsSync(join(ROOT, `dist/cmd/${role}/main.js`)));
  if (unbuilt.length > 0) {
    say(`dist/cmd/{${unbuilt.join(',')}}/main.js missing: run \`npm run build\` (npm run cluster does)`);
    process.exitCode = 1;
    return process.disconnect?.();
  }

  const logs = mkdtempSync(join(tmpdir(), 'courier-cluster-logs-'));
  const output = new NodeOutput(logs);
  let running = false;
  say(
    `starting redis-server, etcd and mariadbd on free ports, then ${COUNTS.business} business, ` +
      `${COUNTS.dispatchers || 'no'} dispatcher${COUNTS.dispatchers ? '' : ' (each business runs its own)'} ` +
      `and ${COUNTS.workers} worker nodes…`,
  );
  const starting = LocalCluster.start({
    ...COUNTS,
    embedDispatchers: COUNTS.dispatchers === 0,
    leaseTtlSeconds: 10,
    host: HOST,
    ports: { business: await ports(PREFERRED.business), worker: await ports(PREFERRED.worker) },
    logLevel: process.env.COURIER_LOG_LEVEL ?? 'info',
    ...LOAD_CLUSTER,
    startTimeoutMs: 60_000,
    onOutput: (node, chunk) => output.write(node, chunk),
    onExit: (node, code) => {
      if (!running) return; // a start-up failure is reported below, with the same output
      say(`\n${node.id} exited (code ${code}); the others keep running. Its last output:`);
      say(node.proc.output().slice(-3_000));
    },
  }).catch((err: unknown) => {
    say(`\nthe cluster did not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
    return undefined; // LocalCluster.start has stopped whatever it had started
  });

  let stopping: Promise<void> | undefined;
  const stop = (why: string) => {
    stopping ??= (async () => {
      const cluster = await starting; // a signal during start-up stops the cluster once it is up
      if (cluster) {
        say(`\n${why}: stopping workers, dispatchers, business, then redis, etcd and mariadb…`);
        await cluster.stop();
      }
      output.close();
      say(`stopped. Node logs are kept in ${logs}`);
      process.disconnect?.();
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('the terminal went away'));

  const cluster = await starting;
  if (!cluster) return stop('start-up failed');
  if (stopping) return;
  running = true;
  print(cluster, logs);
}

function print(cluster: LocalCluster, logs: string): void {
  const { apiKey, internalKey, jwtSecret } = cluster.secrets;
  const list = (nodes: ClusterNode[]) =>
    nodes.map((n) => `${n.url}  (${n.id})`).join('\n                     ');
  const [business] = cluster.nodesOf('business');
  say(`
courier cluster is running. Ctrl-C stops it.

  business API       ${list(cluster.nodesOf('business'))}
  worker WebSockets  ${list(cluster.nodesOf('worker'))}
  dispatchers        ${COUNTS.dispatchers ? list(cluster.nodesOf('dispatcher')) : 'one in each business process'}

  API key            ${apiKey}
  JWT secret         ${jwtSecret}
  internal key       ${internalKey}

  redis              ${cluster.redis.url}
  etcd               ${cluster.etcd.endpoint}
  mysql              ${cluster.mysqlUrl}
  node logs          ${logs}/<node>.log (warnings are also shown here)

Try it:
  KEY=${apiKey}
  curl -s ${business?.url}/v1/tokens -H "authorization: Bearer $KEY" -H 'content-type: application/json' \\
    -d '{"uid":"alice","role":"customer","platform":"web"}'
  # → {"token":"…","gateway":"ws://…/ws"}: connect there with ?token=…, then send to alice:
  curl -s ${business?.url}/v1/messages -H "authorization: Bearer $KEY" -H 'content-type: application/json' \\
    -d '{"from":"bob","to":"alice","type":"text","content":"hello"}'
`);
}

/** Each preferred port if it is free now, else 0 (the node then takes any free port and etcd tells us which). */
async function ports(preferred: number[]): Promise<number[]> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, HOST, () => server.close(() => resolve(true)));
    });
  return Promise.all(preferred.map(async (port) => ((await free(port)) ? port : 0)));
}

/** Every node's output into `<dir>/<id>.log`; its warnings and errors (pino level ≥ 40) also on the terminal. */
class NodeOutput {
  private readonly files = new Map<string, WriteStream>();
  private readonly partial = new Map<string, string>();

  constructor(private readonly dir: string) {}

  write(node: ClusterNode, chunk: string): void {
    let file = this.files.get(node.id);
    if (!file)
      this.files.set(node.id, (file = createWriteStream(join(this.dir, `${node.id}.log`), { flags: 'a' })));
    file.write(chunk);
    const lines = ((this.partial.get(node.id) ?? '') + chunk).split('\n');
    this.partial.set(node.id, lines.pop() ?? '');
    for (const line of lines) {
      const shown = important(line);
      if (shown) say(`[${node.id}] ${shown}`);
    }
  }

  close(): void {
    for (const file of this.files.values()) file.end();
  }
}

/** A pino line at warn or above as `WARN message`; anything that is not pino JSON is shown as it is. */
function important(line: string): string | undefined {
  if (!line.trim()) return undefined;
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line; // not JSON: a crash trace or a message from Node itself
  }
  if (typeof entry !== 'object' || entry === null) return line;
  const { level, msg, err } = entry as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
  if (typeof level !== 'number' || level < 40) return undefined;
  const name = level >= 50 ? 'ERROR' : 'WARN';
  const detail = typeof err?.message === 'string' ? `: ${err.message}` : '';
  return `${name} ${String(msg)}${detail}`;
}

// Last, so that everything above (classes are not hoisted) exists when it runs.
if (process.env[SUPERVISED]) await run();
else supervise();
