// `npm run loadtest -- sequencer-bench`: sequence numbers per second from the Redis sequencer, and the CPU
// this process and redis-server spend per number (docs/BENCHMARKS.md, "Sequence numbers per tick").
import { configSchema } from '../../internal/config/schema.js';
import { createRedis } from '../../internal/redis/client.js';
import { RedisSequencer } from '../../internal/sequencer/redis-sequencer.js';
import { startRedis } from '../../test/support/redis.js';
import { check, type Options, type Specs } from './args.js';
import { cpuMicros } from './cpu.js';

export const sequencerBenchSummary =
  'Starts a throwaway redis-server and asks a RedisSequencer for numbers in bursts, as a batch request\n' +
  "asks for its messages' seqs: --burst calls to next() in one tick, over --conversations warm conversations.";

export const sequencerBenchSpecs = {
  numbers: { kind: 'int', def: 100_000, help: 'numbers per run' },
  burst: { kind: 'int', def: 100, help: 'calls to next() in one event-loop turn' },
  conversations: { kind: 'int', def: 1_000, help: 'conversations the calls go to, in turn' },
  runs: { kind: 'int', def: 3, help: 'runs, one after the other' },
} satisfies Specs;

export async function runSequencerBench(o: Options<typeof sequencerBenchSpecs>): Promise<void> {
  for (const key of ['numbers', 'burst', 'conversations', 'runs'] as const) {
    check(o[key] >= 1, `--${key} must be at least 1 (got ${o[key]})`);
  }
  const server = await startRedis();
  const client = createRedis(configSchema.parse({ redis: { url: server.url } }).redis);
  try {
    const sequencer = new RedisSequencer({ prefix: 'bench:' }, client, () => Promise.resolve(0));
    for (let c = 0; c < o.conversations; c++) await sequencer.next(`c${c}`);
    for (let run = 1; run <= o.runs; run++) {
      const [node0, redis0, start] = [process.cpuUsage(), cpuMicros(server.pid), performance.now()];
      for (let i = 0; i < o.numbers; i += o.burst) {
        await Promise.all(
          Array.from({ length: o.burst }, (_, k) => sequencer.next(`c${(i + k) % o.conversations}`)),
        );
      }
      const seconds = (performance.now() - start) / 1000;
      const node = process.cpuUsage(node0);
      process.stdout.write(
        `run ${run}: ${Math.round(o.numbers / seconds).toLocaleString('en')} numbers/s, ` +
          `this process ${((node.user + node.system) / o.numbers).toFixed(2)} µs/number, ` +
          `redis-server ${((cpuMicros(server.pid) - redis0) / o.numbers).toFixed(2)} µs/number\n`,
      );
    }
  } finally {
    await client.quit();
    await server.stop();
  }
}
