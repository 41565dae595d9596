// courier / Socket.IO ratios (issue 6, target 4) for `push --compare` and `bench`: one table of metrics,
// printed as the headline and written as a report that links the per-run reports.
import type { Options } from './args.js';
import { fmt } from './progress.js';
import type { PushResult, pushSpecs } from './push.js';
import { runPush } from './push.js';
import { newReport, writeReport, type Cell, type Report, type Table } from './report.js';

export interface Metric {
  name: string;
  courier: number | null;
  socketio: number | null;
  /** Which direction is better, so the ratio column reads "courier is N× better/worse". */
  better: 'higher' | 'lower';
  aim?: string;
  /** Each run's value when courier/socketio are the median (or total) of several runs (`bench --runs`). */
  runs?: { courier: (number | null)[]; socketio: (number | null)[]; as: 'median' | 'total' };
}

export function ratio(m: Metric): number | null {
  if (m.courier === null || m.socketio === null || m.socketio === 0) return null;
  return Math.round((m.courier / m.socketio) * 100) / 100;
}

/** A plain-text table for the terminal. */
export function headline(metrics: Metric[]): string {
  const rows = [
    ['metric', 'courier', 'Socket.IO', 'courier/Socket.IO', 'aim'],
    ...metrics.map((m) => [m.name, show(m.courier), show(m.socketio), show(ratio(m)), m.aim ?? '']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

const show = (v: number | null) => (v === null ? '—' : fmt(v, 2));

export function comparisonReport(
  tool: string,
  title: string,
  options: Record<string, unknown>,
  metrics: Metric[],
  runs: { name: string; files: { json: string; html: string } }[],
): Report {
  const report = newReport(tool, title, options);
  report.summary = Object.fromEntries(metrics.map((m) => [`${m.name}: courier/Socket.IO`, ratio(m)]));
  report.tables.push(
    {
      title: 'courier vs Socket.IO (same tool, same machine, same run)',
      columns: ['metric', 'courier', 'Socket.IO', 'courier/Socket.IO', 'better when', 'aim'],
      rows: metrics.map((m) => [m.name, m.courier, m.socketio, ratio(m), m.better, m.aim ?? '']),
    },
    ...individualRuns(metrics),
    {
      title: 'Runs',
      columns: ['run', 'JSON', 'HTML'],
      rows: runs.map((r) => [r.name, r.files.json, r.files.html]),
    },
  );
  report.data = { metrics: metrics.map((m) => ({ ...m, ratio: ratio(m) })), runs };
  return report;
}

/** The table of every run's value behind each median, when there was more than one run. */
function individualRuns(metrics: Metric[]): Table[] {
  const n = Math.max(0, ...metrics.map((m) => m.runs?.courier.length ?? 0));
  if (n < 2) return [];
  const runColumns = Array.from({ length: n }, (_, i) => `run ${i + 1}`);
  const rows: Cell[][] = [];
  for (const m of metrics) {
    if (!m.runs) continue;
    // A system that has no value for a metric (Redis of the all-in-one, the peer with --no-socketio) is left out.
    if (m.runs.courier.some((v) => v !== null))
      rows.push(['courier', m.name, ...pad(m.runs.courier, n), m.courier, m.runs.as]);
    if (m.runs.socketio.some((v) => v !== null))
      rows.push(['Socket.IO', m.name, ...pad(m.runs.socketio, n), m.socketio, m.runs.as]);
  }
  return [
    {
      title: `Individual runs (${n} of each measurement; the table above shows their medians, losses and failures in total)`,
      columns: ['system', 'metric', ...runColumns, 'reported', 'as'],
      rows,
    },
  ];
}

const pad = (values: (number | null)[], n: number): Cell[] =>
  Array.from({ length: n }, (_, i) => values[i] ?? null);

export function pushMetrics(c: PushResult, s: PushResult): Metric[] {
  return [
    {
      name: 'delivered/s',
      courier: Math.round(c.deliveredPerSec),
      socketio: Math.round(s.deliveredPerSec),
      better: 'higher',
      aim: '≥ 2',
    },
    {
      name: 'latency p99 (ms)',
      courier: c.latencyMs.p99,
      socketio: s.latencyMs.p99,
      better: 'lower',
      aim: '≤ 1',
    },
    { name: 'latency p50 (ms)', courier: c.latencyMs.p50, socketio: s.latencyMs.p50, better: 'lower' },
    { name: 'lost messages', courier: c.loss.lost, socketio: s.loss.lost, better: 'lower', aim: '0' },
    {
      name: 'server RSS per receiver connection (bytes)',
      courier: c.rssPerConn,
      socketio: s.rssPerConn,
      better: 'lower',
      aim: '≤ 0.5',
    },
    {
      name: 'server CPU per delivered message (µs)',
      courier: c.cpuPerMessageUs,
      socketio: s.cpuPerMessageUs,
      better: 'lower',
    },
    {
      name: 'server CPU (cores busy on average)',
      courier: c.cpuCores,
      socketio: s.cpuCores,
      better: 'lower',
    },
  ];
}

/** `push --compare`: the same push run against courier (--url) and then the peer (--socketio-url). */
export async function runPushCompare(o: Options<typeof pushSpecs>): Promise<void> {
  if (!o.socketioUrl)
    throw new RangeError(
      'push --compare needs --socketio-url (the reference peer, see peers/socketio-server)',
    );
  process.stderr.write('[compare] courier run\n');
  const courier = await runPush({ ...o, target: 'courier' });
  process.stderr.write('[compare] Socket.IO run\n');
  const socketio = await runPush({
    ...o,
    target: 'socketio',
    url: o.socketioUrl,
    workerPids: '',
    serverPids: '',
    etcd: '',
  });
  const metrics = pushMetrics(courier, socketio);
  const report = comparisonReport(
    'compare',
    `courier vs Socket.IO: push ${o.mode} at ${fmt(o.rate)} msg/s`,
    o,
    metrics,
    [
      { name: 'courier', files: courier.files },
      { name: 'Socket.IO', files: socketio.files },
    ],
  );
  const files = writeReport(report, o.out);
  process.stdout.write(`${headline(metrics)}\n\nreport: ${files.html}\n`);
}
