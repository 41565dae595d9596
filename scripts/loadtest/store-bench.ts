// Group-commit throughput of the message store and the CPU the database spends per message
// (docs/BENCHMARKS.md, "The store under load").
// Run: npm run build && node dist/scripts/loadtest/store-bench.js [--driver mysql] [--rows 500] [--batches 200]
//        [--conversations 100000] [--runs 3]
// Starts a throwaway MariaDB (512 MB buffer pool, as `npm run cluster`) or a SQLite file in a temp folder,
// ensures the direct conversations, then appends `rows` messages at a time to random ones, as business
// does under load: each append waits for its group commit, and the next burst starts when all have.
import { parseArgs } from 'node:util';
import { newMessageId } from '../../internal/business/message-service.js';
import { createStore } from '../../internal/store/create-store.js';
import type { Store } from '../../internal/store/store.js';
import { silentLogger } from '../../internal/log/logger.js';
import { startMariaDb, type MariaDb } from '../../test/support/mariadb.js';
import { tempDir } from '../../test/support/servers.js';
import { clockTicks, cpuTicks } from './cpu.js';

const { values } = parseArgs({
  options: {
    driver: { type: 'string', default: 'mysql' },
    rows: { type: 'string', default: '500' },
    batches: { type: 'string', default: '200' },
    conversations: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
  },
});
const ROWS = Number(values.rows);
const BATCHES = Number(values.batches);
const CONVERSATIONS = Number(values.conversations);
const RUNS = Number(values.runs);
if (values.driver !== 'mysql' && values.driver !== 'sqlite') throw new Error('--driver: mysql or sqlite');
for (const [name, n] of Object.entries({ ROWS, BATCHES, CONVERSATIONS, RUNS })) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name.toLowerCase()}: a positive integer`);
}

/** CPU time (user + system) of a process in µs. */
function cpuMicros(pid: number): number {
  return ((cpuTicks(pid) ?? Number.NaN) * 1e6) / clockTicks();
}

const conversation = (i: number) => `direct:b${i}:b${i + 1}`;

async function open(): Promise<{ store: Store; dbPid?: number; stop(): Promise<void> }> {
  const options = {
    groupCommitMaxRows: ROWS,
    sqlite: { path: '' },
    mysql: { url: '', replicaUrl: '', poolSize: 4 },
  };
  if (values.driver === 'sqlite') {
    const dir = tempDir('store-bench');
    const store = await createStore(
      { ...options, driver: 'sqlite', sqlite: { path: `${dir.path}/bench.db` } },
      silentLogger(),
    );
    return { store, stop: async () => (await store.close(), dir.remove()) };
  }
  const db: MariaDb = await startMariaDb({ bufferPoolMb: 512 });
  const url = await db.createDatabase('bench');
  const store = await createStore(
    { ...options, driver: 'mysql', mysql: { ...options.mysql, url } },
    silentLogger(),
  );
  return { store, dbPid: db.pid, stop: async () => (await store.close(), await db.stop()) };
}

const { store, dbPid, stop } = await open();
try {
  for (let from = 0; from < CONVERSATIONS; from += 1_000) {
    const ids = Array.from({ length: Math.min(1_000, CONVERSATIONS - from) }, (_, k) => from + k);
    await Promise.all(
      ids.map((i) =>
        store.ensureConversation({ id: conversation(i), kind: 'direct', members: [`b${i}`, `b${i + 1}`] }),
      ),
    );
  }
  const seqs = new Uint32Array(CONVERSATIONS);
  let k = 0;
  const rates: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const start = performance.now();
    const [node0, db0] = [process.cpuUsage(), dbPid ? cpuMicros(dbPid) : 0];
    for (let b = 0; b < BATCHES; b++) {
      const burst: Promise<void>[] = [];
      for (let r = 0; r < ROWS; r++, k++) {
        const i = Math.floor(Math.random() * CONVERSATIONS);
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
    const messages = ROWS * BATCHES;
    const node = process.cpuUsage(node0);
    rates.push(messages / seconds);
    console.log(
      `run ${run}: ${Math.round(messages / seconds).toLocaleString('en')} messages/s, ` +
        `this process ${((node.user + node.system) / messages).toFixed(1)} µs/message` +
        (dbPid ? `, mariadbd ${((cpuMicros(dbPid) - db0) / messages).toFixed(1)} µs/message` : ''),
    );
  }
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)] as number;
  console.log(
    JSON.stringify({
      driver: values.driver,
      rowsPerBatch: ROWS,
      batches: BATCHES,
      conversations: CONVERSATIONS,
      medianMessagesPerSecond: Math.round(median),
      node: process.version,
    }),
  );
} finally {
  await stop();
}
