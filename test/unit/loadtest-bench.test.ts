// `bench` end to end on a small scale: it starts the all-in-one itself, holds --online idle connections
// through its push runs (target 2 counts 100,000 online) and runs the latency runs at the --latency-rates
// asked, instead of half a capacity.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { UsageError } from '../../scripts/loadtest/args.js';
import { parseLatencyRates, runBench } from '../../scripts/loadtest/bench.js';
import { tempDir } from '../support/servers.js';

describe('loadtest bench', () => {
  it(
    'holds the online connections through the push runs and measures latency at the rate asked',
    { timeout: 120_000 },
    async () => {
      const out = tempDir('loadtest-bench');
      const stderr: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        stderr.push(String(chunk));
        return write(chunk, ...rest);
      }) as typeof process.stderr.write;
      try {
        const result = await runBench([
          ...['--no-socketio', '--conns', '0', '--online', '300', '--online-rate', '1000'],
          ...['--modes', 'http', '--http-rate', '300', '--latency-rates', 'http=100'],
          ...['--duration', '1', '--warmup', '0', '--receivers', '20', '--procs', '1', '--out', out.path],
        ]);
        const value = (name: string) => result.metrics.find((m) => m.name === name)?.courier;
        assert.equal(
          value('online through the push runs: open at the end'),
          300,
          JSON.stringify(result.lines),
        );
        assert.equal(value('online: failed to open or dropped'), 0);
        assert.match(result.lines[0] ?? '', /^online: 300 of 300 idle connections open at the end/);
        // The latency run went at 100 msg/s, not at half of what the capacity run delivered.
        const p99 = value('http: p99 ms at 100 msg/s');
        assert.ok(typeof p99 === 'number' && p99 > 0, JSON.stringify(result.metrics.map((m) => m.name)));
        assert.equal(value('http: lost (all runs)'), 0);
        assert.ok(result.lines.some((l) => l.includes('with 300 more connections online')));
        // Still held after the last push run had started: the end-of-hold reading comes after it.
        const report = (name: string) => {
          const run = result.runs.find((r) => r.name === name);
          assert.ok(run, `${name} in ${result.runs.map((r) => r.name).join(', ')}`);
          return JSON.parse(readFileSync(run.files.json, 'utf8')) as {
            startedAt: string;
            data: { samples?: { label: string; at: string; open: number }[] };
          };
        };
        assert.deepEqual(
          result.runs.map((r) => r.name),
          ['push courier http capacity', 'push courier http latency', 'conns online'],
        );
        const endOfHold = report('conns online').data.samples?.find((s) => s.label === 'end of hold');
        assert.equal(endOfHold?.open, 300);
        const lastPush = report('push courier http latency').startedAt;
        assert.ok((endOfHold?.at ?? '') > lastPush, `${endOfHold?.at} after ${lastPush}`);
        // While the push runs go, their progress line has stderr: conns draws its own again only when it ends.
        const lines = stderr.join('').split('\n');
        const start = lines.findIndex((l) => l.includes('300 online; push runs start'));
        assert.ok(start > 0, 'bench said when the push runs started');
        const connsLines = lines.slice(start).filter((l) => /^\[conns +\d+s\]/.test(l));
        assert.ok(connsLines.length <= 1, connsLines.join('\n'));
        // --conns 0: no conns runs, so no open rate or memory figures.
        assert.equal(value('open rate (/s)'), undefined);
      } finally {
        process.stderr.write = write;
        out.remove();
      }
    },
  );

  it(
    'with --floor, runs each capacity run against the relay too and reports its share',
    { timeout: 120_000 },
    async () => {
      const out = tempDir('loadtest-bench-floor');
      try {
        const result = await runBench([
          ...['--no-socketio', '--conns', '0', '--floor', '--modes', 'batch', '--batch-rate', '200'],
          ...['--latency-rates', 'batch=100', '--duration', '1', '--warmup', '0', '--receivers', '20'],
          ...['--procs', '1', '--out', out.path],
        ]);
        assert.deepEqual(
          result.runs.map((r) => r.name),
          ['push courier batch capacity', 'push relay batch capacity', 'push courier batch latency'],
        );
        const relayRun = result.runs[1];
        const summary = (
          JSON.parse(readFileSync(relayRun?.files.json ?? '', 'utf8')) as { summary: Record<string, unknown> }
        ).summary;
        assert.match(String(summary.target), /^courier http:\/\/127\.0\.0\.1:\d+$/);
        assert.equal(summary['offered rate (msg/s)'], 400, 'the relay is offered twice the rate');
        assert.equal(summary['lost (accepted, not received by a device connected throughout)'], 0);
        const delivered = Number(summary['delivered (unique, all devices)']);
        assert.ok(delivered > 0 && delivered === summary.accepted, JSON.stringify(summary));
        assert.ok((result.floor.batch ?? 0) > 0, JSON.stringify(result.floor));
        const written = JSON.parse(readFileSync(result.files.json, 'utf8')) as { data: { floor?: unknown } };
        assert.deepEqual(written.data.floor, result.floor);
        const line = result.lines.find((l) => l.startsWith('floor batch:'));
        assert.match(
          line ?? '',
          /^floor batch: a relay that stores and checks nothing delivered [\d,]+ msg\/s; courier \d+ % of it/,
        );
      } finally {
        out.remove();
      }
    },
  );

  it('refuses --online with the peer and bad --latency-rates before starting anything', async () => {
    await assert.rejects(runBench(['--online', '10']), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /--no-socketio/);
      return true;
    });
    await assert.rejects(runBench(['--no-socketio', '--online', '40000']), /use --cluster --workers N/);
    assert.deepEqual(parseLatencyRates(' http=1500, batch=10000 '), { http: 1500, batch: 10_000 });
    assert.deepEqual(parseLatencyRates(''), {});
    for (const bad of ['http', 'http=', 'http=0', 'http=x', 'sse=10'])
      assert.throws(() => parseLatencyRates(bad), /--latency-rates/, bad);
  });
});
