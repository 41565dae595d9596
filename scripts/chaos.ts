// `npm run chaos -- [--duration 120] [--gap 5] [--receivers 6] [--devices 2] [--http-senders 3]
// [--ws-senders 2] [--interval-ms 150]`: the chaos run of test/chaos for as long as asked. A cluster like
// `npm run cluster` (2 business, 2 dispatchers, 3 workers on Redis, etcd and MariaDB from PATH), steady
// traffic, and the faults of issue 5 round after round; then the counts, and exit code 1 if anything that
// was answered is lost, duplicated or out of order. docs/RELIABILITY.md explains the numbers.
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { runChaos } from '../test/chaos/run.js';
import { formatReport } from '../test/chaos/verify.js';

const say = (text = '') => process.stdout.write(`${text}\n`);

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' }, // seconds of faults; the last round finishes past it
    gap: { type: 'string', default: '5' }, // seconds of plain traffic before each fault
    receivers: { type: 'string', default: '6' },
    devices: { type: 'string', default: '2' },
    'http-senders': { type: 'string', default: '3' },
    'ws-senders': { type: 'string', default: '2' },
    'interval-ms': { type: 'string', default: '150' },
  },
});

function positive(name: keyof typeof values): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) {
    say(`--${name} must be a non-negative number (got ${String(values[name])})`);
    process.exit(2);
  }
  return n;
}

const options = {
  durationMs: positive('duration') * 1000,
  gapMs: positive('gap') * 1000,
  traffic: {
    receivers: positive('receivers'),
    devices: positive('devices'),
    httpSenders: positive('http-senders'),
    wsSenders: positive('ws-senders'),
    intervalMs: positive('interval-ms'),
  },
};

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
say(`chaos: ${machine}`);
say(`command: npm run chaos -- ${process.argv.slice(2).join(' ') || '(defaults)'}`);
say('starting redis-server, etcd, mariadbd and 2 business, 2 dispatcher, 3 worker nodes…');

const result = await runChaos({ ...options, log: (line) => say(line) });
say();
for (const line of result.faults) say(`fault  ${line}`);
for (const crash of result.crashes) say(`CRASH  ${crash}`);
say(`\n${(result.elapsedMs / 1000).toFixed(1)} s of traffic and checks`);
say(formatReport(result.report));
const r = result.report;
const broken =
  r.notStored + r.storedTwice + r.lost + r.duplicatesDelivered + r.orderViolations + r.problems.length > 0 ||
  r.devicesConnected < r.devices ||
  result.crashes.length > 0;
say(broken ? '\nFAILED: see the counts above' : '\nOK: nothing answered was lost, duplicated or reordered');
process.exitCode = broken ? 1 : 0;
