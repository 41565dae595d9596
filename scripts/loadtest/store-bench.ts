// `npm run loadtest -- store-bench`: group-commit throughput of the message store and the CPU the database
// spends per message (docs/BENCHMARKS.md, "Target 2 again").
import { newMessageId } from '../../internal/business/message-service.js';
import { silentLogger } from '../../internal/log/logger.js';
import { createStore } from '../../internal/store/create-store.js';
import type { Store } from '../../internal/store/store.js';
import { startMariaDb } from '../../test/support/mariadb.js';
import { tempDir } from '../../test/support/servers.js';
import { check, type Options, type Specs } from './args.js';
import { median } from './stats.js';
import { cpuMicros } from './cpu.js';

export const storeBenchSummary =
  'Starts a throwaway MariaDB (512 MB buffer pool, as npm run cluster) or a SQLite file in a temp folder,\n' +
  'ensures the direct conversations, then appends --rows messages at a time to random ones, as business\n' +
  'does under load: each append waits for its group commit, and the next burst starts when all have.\n' +
  'Prints messages/s and the CPU this process and mariadbd spend per message, per run and the median.';

export const storeBenchSpecs = {
  driver: { kind: 'str', def: 'mysql', help: 'mysql (MariaDB) or sqlite' },
  rows: { kind: 'int', def: 500, help: 'messages per burst (the group commit takes them as one batch)' },
  batches: { kind: 'int', def: 200, help: 'bursts per run' },
  conversations: { kind: 'int', def: 100_000, help: 'direct conversations the messages go to' },
  runs: { kind: 'int', def: 3, help: 'runs, one after the other on the same database' },
} satisfies Specs;

const conversation = (i: number) => `direct:b${i}:b${i + 1}`;

async function open(
  o: Options<typeof storeBenchSpecs>,
): Promise<{ store: Store; dbPid?: number; stop(): Promise<void> }> {
  const options = {
    groupCommitMaxRows: o.rows,
    groupCommitLingerMs: 0,
    sqlite: { path: '' },
    mysql: { url: '', replicaUrl: '', poolSize: 4 },
  };
  if (o.driver === 'sqlite') {
    const dir = tempDir('store-bench');
    const store = await createStore(
      { ...options, driver: 'sqlite', sqlite: { path: `${dir.path}/bench.db` } },
      silentLogger(),
    );
    return { store, stop: async () => (await store.close(), dir.remove()) };
  }
  const db = await startMariaDb({ bufferPoolMb: 512 });
  const url = await db.createDatabase('bench');
  const store = await createStore(
    { ...options, driver: 'mysql', mysql: { ...options.mysql, url } },
    silentLogger(),
  );
  return { store, dbPid: db.pid, stop: async () => (await store.close(), await db.stop()) };
}

export async function runStoreBench(o: Options<typeof storeBenchSpecs>): Promise<void> {
  check(o.driver === 'mysql' || o.driver === 'sqlite', `--driver: mysql or sqlite (got ${o.driver})`);
  for (const key of ['rows', 'batches', 'conversations', 'runs'] as const) {
    check(o[key] >= 1, `--${key} must be at least 1 (got ${o[key]})`);
  }
  const { store, dbPid, stop } = await open(o);
  try {
    for (let from = 0; from < o.conversations; from += 1_000) {
      const ids = Array.from({ length: Math.min(1_000, o.conversations - from) }, (_, k) => from + k);
      await Promise.all(
        ids.map((i) =>
          store.ensureConversation({ id: conversation(i), kind: 'direct', members: [`b${i}`, `b${i + 1}`] }),
        ),
      );
    }
    const seqs = new Uint32Array(o.conversations);
    const messages = o.rows * o.batches;
    let k = 0;
    const rates: number[] = [];
    for (let run = 1; run <= o.runs; run++) {
      const start = performance.now();
      const [node0, db0] = [process.cpuUsage(), dbPid ? cpuMicros(dbPid) : 0];
      for (let b = 0; b < o.batches; b++) {
        const burst: Promise<void>[] = [];
        for (let r = 0; r < o.rows; r++, k++) {
          const i = Math.floor(Math.random() * o.conversations);
          const seq = ++seqs[i]!;
          const ts = Date.now();
          const [from, to] = seq % 2 ? [`b${i}`, `b${i + 1}`] : [`b${i + 1}`, `b${i}`];
          burst.push(
            store.append({
              id: newMessageId(ts),
              conversation: conversation(i),
              seq,
              from,
              to: [to],
              type: 'custom',
              content: { k, t: ts },
              ts,
              clientMsgId: String(k),
            }),
          );
        }
        await Promise.all(burst);
      }
      const seconds = (performance.now() - start) / 1000;
      const node = process.cpuUsage(node0);
      rates.push(messages / seconds);
      process.stdout.write(
        `run ${run}: ${Math.round(messages / seconds).toLocaleString('en')} messages/s, ` +
          `this process ${((node.user + node.system) / messages).toFixed(1)} µs/message` +
          (dbPid ? `, mariadbd ${((cpuMicros(dbPid) - db0) / messages).toFixed(1)} µs/message` : '') +
          '\n',
      );
    }
    process.stdout.write(`median: ${Math.round(median(rates) ?? 0).toLocaleString('en')} messages/s\n`);
  } finally {
    await stop();
  }
}
