// Sequence numbers per second from the Redis sequencer, and the CPU this process and redis-server spend per
// number (docs/BENCHMARKS.md). Sends arrive in bursts, as a batch request's messages do: `--burst` calls to
// next() in one tick, over `--conversations` warm conversations.
// Run: npm run build && node dist/scripts/loadtest/sequencer-bench.js [--numbers 100000] [--burst 100]
import { parseArgs } from 'node:util';
import { configSchema } from '../../internal/config/schema.js';
import { createRedis } from '../../internal/redis/client.js';
import { RedisSequencer } from '../../internal/sequencer/redis-sequencer.js';
import { startRedis } from '../../test/support/redis.js';
import { clockTicks, cpuTicks } from './cpu.js';

const { values } = parseArgs({
  options: {
    numbers: { type: 'string', default: '100000' },
    burst: { type: 'string', default: '100' },
    conversations: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
  },
});
const [NUMBERS, BURST, CONVERSATIONS, RUNS] = [
  values.numbers,
  values.burst,
  values.conversations,
  values.runs,
].map(Number) as [number, number, number, number];
for (const [name, n] of Object.entries({ NUMBERS, BURST, CONVERSATIONS, RUNS })) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name.toLowerCase()}: a positive integer`);
}

/** CPU time (user + system) of a process in µs. */
function cpuMicros(pid: number): number {
  return ((cpuTicks(pid) ?? Number.NaN) * 1e6) / clockTicks();
}

const server = await startRedis();
const client = createRedis(configSchema.parse({ redis: { url: server.url } }).redis);
try {
  const sequencer = new RedisSequencer({ prefix: 'bench:' }, client, () => Promise.resolve(0));
  for (let c = 0; c < CONVERSATIONS; c++) await sequencer.next(`c${c}`);
  for (let run = 1; run <= RUNS; run++) {
    const [node0, redis0, start] = [process.cpuUsage(), cpuMicros(server.pid), performance.now()];
    for (let i = 0; i < NUMBERS; i += BURST) {
      await Promise.all(
        Array.from({ length: BURST }, (_, k) => sequencer.next(`c${(i + k) % CONVERSATIONS}`)),
      );
    }
    const seconds = (performance.now() - start) / 1000;
    const node = process.cpuUsage(node0);
    console.log(
      `run ${run}: ${Math.round(NUMBERS / seconds).toLocaleString('en')} numbers/s, ` +
        `this process ${((node.user + node.system) / NUMBERS).toFixed(2)} µs/number, ` +
        `redis-server ${((cpuMicros(server.pid) - redis0) / NUMBERS).toFixed(2)} µs/number`,
    );
  }
} finally {
  await client.quit();
  await server.stop();
}
