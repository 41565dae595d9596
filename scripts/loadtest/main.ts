// `npm run loadtest -- <tool> [options]`: the load tools of issue 6. See docs/LOADTEST.md.
import { HelpRequested, UsageError, parseOptions } from './args.js';
import { runBench } from './bench.js';
import { runPushCompare } from './compare.js';
import { connsSpecs, connsSummary, runConns } from './conns.js';
import { PlanError } from './plan.js';
import { pushSpecs, pushSummary, runPush } from './push.js';

const TOOLS = `usage: npm run loadtest -- <tool> [options]      (each tool has --help)

tools:
  conns   open N authenticated WebSocket connections through the gateway and hold them:
          open rate, failures by reason, server RSS and Redis memory per connection
  push    open-loop message load (http, batch or ws): delivered/s, end-to-end latency
          percentiles from the intended send time, lost and duplicate messages;
          --compare runs courier and then the Socket.IO peer and reports ratios
  bench   starts courier and the Socket.IO peer itself and runs a short conns + push
          comparison (also \`npm run bench\`)
  store-bench      group commits per second and the database's CPU per message (MariaDB or SQLite)
  sequencer-bench  sequence numbers per second from the Redis sequencer, CPU per number

Reports go to reports/<tool>-<time>.json and .html (self-contained, charts inline).
`;

function printReport(files: { json: string; html: string }, summary: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(summary).map((k) => k.length));
  for (const [k, v] of Object.entries(summary))
    process.stdout.write(`${k.padEnd(width)}  ${v === null ? '—' : String(v)}\n`);
  process.stdout.write(`\nreport: ${files.html}\n        ${files.json}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [tool, ...rest] = argv;
  switch (tool) {
    case 'conns': {
      const result = await runConns(parseOptions('conns', connsSummary, connsSpecs, rest));
      printReport(result.files, result.report.summary);
      return result.failed > 0 ? 1 : 0;
    }
    case 'push': {
      const o = parseOptions('push', pushSummary, pushSpecs, rest);
      if (o.compare) {
        await runPushCompare(o);
        return 0;
      }
      const result = await runPush(o);
      printReport(result.files, result.report.summary);
      for (const w of result.report.warnings) process.stdout.write(`warning: ${w}\n`);
      return result.loss.lost > 0 ? 1 : 0;
    }
    case 'bench':
      await runBench(rest);
      return 0;
    // Loaded on demand: they start throwaway database servers with the tests' launchers.
    case 'store-bench': {
      const { runStoreBench, storeBenchSpecs, storeBenchSummary } = await import('./store-bench.js');
      await runStoreBench(parseOptions(tool, storeBenchSummary, storeBenchSpecs, rest));
      return 0;
    }
    case 'sequencer-bench': {
      const { runSequencerBench, sequencerBenchSpecs, sequencerBenchSummary } =
        await import('./sequencer-bench.js');
      await runSequencerBench(parseOptions(tool, sequencerBenchSummary, sequencerBenchSpecs, rest));
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(TOOLS);
      return tool === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown tool "${tool}"\n\n${TOOLS}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.message);
      return;
    }
    const usage = err instanceof UsageError || err instanceof PlanError || err instanceof RangeError;
    process.stderr.write(
      `loadtest: ${usage ? '' : 'failed: '}${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = usage ? 2 : 1;
  },
);
