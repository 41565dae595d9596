// `conns`: open N authenticated WebSocket connections through the gateway, spread over P generator processes
// and S loopback source addresses, hold them, and measure open rate, failures and memory per connection.
import { setTimeout as pause } from 'node:timers/promises';
import type { Options } from './args.js';
import { check, type Specs } from './args.js';
import { describeProbe, probeBox } from './box-probe.js';
import {
  PerSecond,
  buildTarget,
  defaultUidPrefix,
  memorySpecs,
  sortedCounts,
  sumCounts,
  targetSpecs,
} from './common.js';
import { Fleet, GeneratorError } from './fleet.js';
import { Histogram, percentileSeries, toMs } from './histogram.js';
import { addCount, type ChildMessage } from './ipc.js';
import { discoverPids, perConnection, sampleMemory, totalRss, type MemorySample } from './memory.js';
import { autoProcs, autoSources, splitPlan } from './plan.js';
import { bindablePorts } from './source-ports.js';
import { Progress, fmt } from './progress.js';
import { newReport, writeReport, type Report } from './report.js';
import { realClock } from './scheduler.js';

export const connsSummary =
  'Opens N authenticated WebSocket connections (tokens → GET /v1/gateway → ws), paced at --rate opens/s over\n' +
  'P generator processes and S loopback source addresses, holds them for --hold seconds (pings answered,\n' +
  'messages ACKed), then reports open rate, failures by reason, and server memory per connection.';

export const connsSpecs = {
  count: { kind: 'int', def: 1000, help: 'connections to open' },
  rate: {
    kind: 'num',
    def: 1000,
    help: 'target open rate, opens/s over all generators (paced per generator)',
  },
  hold: { kind: 'num', def: 10, help: 'seconds to hold the connections after the last open' },
  maxPending: { kind: 'int', def: 500, help: 'handshakes in flight per generator' },
  settle: { kind: 'num', def: 3, help: 'seconds between the last open and the "after" memory reading' },
  ...memorySpecs,
  ...targetSpecs,
} satisfies Specs;

export type ConnsOptions = Options<typeof connsSpecs>;

export interface ConnsResult {
  report: Report;
  files: { json: string; html: string };
  opened: number;
  failed: number;
  dropped: number; // closed while held
  openAtEnd: number;
  openRate: number;
  workerRssPerConn: number | null;
  redisPerConn: number | null;
}

/** For a caller that holds connections while it measures something else (`bench --online`). */
export interface ConnsControl {
  /**
   * Called once the opens are answered and settled: the connections are held from here on, and the progress
   * line goes quiet so that the caller's own has the terminal.
   */
  onHolding?: (open: number) => void;
  /** Ends the hold early; the end-of-hold reading and the report follow as after a full hold. */
  stop?: AbortSignal;
}

export async function runConns(o: ConnsOptions, control: ConnsControl = {}): Promise<ConnsResult> {
  const target = buildTarget(o);
  check(o.count >= 1, `--count must be at least 1 (got ${o.count})`);
  check(o.rate > 0, `--rate must be positive (got ${o.rate})`);
  check(o.hold >= 0, `--hold must be ≥ 0 (got ${o.hold})`);
  const procs = autoProcs(o.count, o.procs, o.maxPerProc);
  const sources = autoSources(o.count, o.sources, o.sourceBase, o.maxPerSource);
  const plan = splitPlan({
    count: o.count,
    procs,
    sources,
    maxPerProc: o.maxPerProc,
    maxPerSource: o.maxPerSource,
    ports: bindablePorts(),
  });
  const report = newReport('conns', `courier load: ${fmt(o.count)} connections (${o.target})`, {
    ...o,
    procs,
    sources: sources.length,
  });
  const uidPrefix = defaultUidPrefix(o.uidPrefix);

  const opened = new PerSecond();
  const failedPerSec = new PerSecond();
  const openNow = new Map<number, number>();
  const failed: Record<string, number> = {};
  const closed: Record<string, number> = {};
  const openLatency = new Histogram();
  const latencyBySec = new Map<number, Histogram>();
  const onMessage = (m: ChildMessage) => {
    if (m.type !== 'tick' || m.tick.kind !== 'conns') return;
    const t = m.tick;
    for (const [sec, n] of Object.entries(t.openedBySecond)) opened.add(Number(sec), n);
    opened.reportedBefore(m.proc, m.sec);
    failedPerSec.add(m.sec, sumCounts(t.failed));
    addCount(failed, t.failed);
    addCount(closed, t.closed);
    openNow.set(m.proc, t.open);
    openLatency.merge(t.openLatency);
    const h = latencyBySec.get(m.sec) ?? new Histogram();
    h.merge(t.openLatency);
    latencyBySec.set(m.sec, h);
  };
  const open = () => [...openNow.values()].reduce((a, b) => a + b, 0);
  const totalFailed = () => sumCounts(failed);
  const progress = new Progress(
    'conns',
    () =>
      `open ${fmt(open())}/${fmt(o.count)}  ${fmt(opened.last())} opens/s  failed ${fmt(totalFailed())}  dropped ${fmt(sumCounts(closed))}`,
  );

  const { pids, how } = await discoverPids(o, (t) => progress.note(t), false);
  progress.note(
    `plan: ${fmt(o.count)} connections over ${procs} generator(s) × ${sources.length} source(s) (${sources.join(', ') || 'none bound: the kernel picks'}); worker pids [${pids.join(', ')}] via ${how}`,
  );
  const probe = await probeBox();
  progress.note(`machine probe: ${describeProbe(probe)}`);
  const before = await sampleMemory(pids, o.redisUrl, (t) => progress.note(t));
  const fleet = new Fleet(procs, onMessage);
  const samples: (MemorySample & { label: string; open: number })[] = [
    { ...before, label: 'before', open: 0 },
  ];
  let openSeconds = 0;
  let generatorRssDelta = 0; // what the generators' own connections cost: sizes the fleet for big runs
  try {
    const prepared = fleet.expectAll('prepared');
    const settled = fleet.expectAll('settled');
    const deadlineMs = Date.now() + (o.count / o.rate + o.hold + o.settle + 600) * 1000;
    for (let p = 0; p < procs; p++) {
      fleet.send(p, {
        type: 'conns-job',
        proc: p,
        plan,
        target,
        uidPrefix,
        ratePerSec: o.rate / procs,
        maxPending: o.maxPending,
        deadlineMs,
      });
    }
    progress.note(target.jwtSecret ? 'minting tokens locally' : 'asking POST /v1/tokens for tokens');
    await fleet.race(prepared, (o.count / 200 + 60) * 1000, 'token preparation');
    const generatorBefore = totalRss(fleet.pids()).bytes; // tokens minted, nothing connected yet
    const startMs = realClock.now() + 300;
    fleet.broadcast({ type: 'go', startMs });
    progress.start();
    const answered = () => opened.total() + totalFailed();
    const stallSeconds = o.connectTimeout + 60;
    const allAnswered = await settleWhileAnswering(fleet, settled, answered, stallSeconds * 1000);
    openSeconds = (realClock.now() - startMs) / 1000;
    // A run that cannot open everything still has a result: hold and measure what is open, and report the
    // failures by reason, instead of leaving nothing behind.
    progress.note(
      allAnswered
        ? `all opens answered after ${openSeconds.toFixed(1)} s; settling ${o.settle} s before measuring`
        : `no open answered for ${stallSeconds} s; holding and measuring the ${fmt(open())} connections that are open`,
    );
    await sleep(o.settle * 1000);
    samples.push({
      ...(await sampleMemory(pids, o.redisUrl, (t) => progress.note(t))),
      label: 'after open',
      open: open(),
    });
    generatorRssDelta = totalRss(fleet.pids()).bytes - generatorBefore;
    if (control.onHolding) {
      progress.pause();
      control.onHolding(open());
    }
    await sleep(o.hold * 1000, control.stop);
    samples.push({
      ...(await sampleMemory(pids, o.redisUrl, (t) => progress.note(t))),
      label: 'end of hold',
      open: open(),
    });
  } finally {
    progress.stop();
    await fleet.close();
  }

  const end = samples[samples.length - 1] as (typeof samples)[number];
  const afterOpen = samples[1];
  const totalOpened = opened.total();
  const openRate = openSeconds > 0 ? totalOpened / openSeconds : 0;
  const rssPerConn = perConnection(before.workerRssBytes, end.workerRssBytes, end.open);
  const redisPerConn = perConnection(before.redisUsedBytes, end.redisUsedBytes, end.open);
  const lat = toMs(openLatency.summary());
  report.summary = {
    target: `${o.target} ${o.url}`,
    'connections asked': o.count,
    opened: totalOpened,
    'failed to open': totalFailed(),
    'dropped while held': sumCounts(closed),
    'open at end of hold': end.open,
    'target open rate (/s)': o.rate,
    'sustained open rate (/s, all opens ÷ time to open them)': Math.round(openRate),
    'peak open rate (/s, best second)': Math.max(0, ...opened.points().map(([, v]) => v)),
    'open latency p50 / p99 / max (ms, from intended open time)': `${lat.p50} / ${lat.p99} / ${lat.max}`,
    'worker RSS per connection (bytes, end of hold)': rssPerConn,
    'worker RSS per connection (bytes, after open)': afterOpen
      ? perConnection(before.workerRssBytes, afterOpen.workerRssBytes, afterOpen.open)
      : null,
    'Redis used_memory per connection (bytes)': redisPerConn,
    'generator RSS per connection (bytes)': afterOpen?.open
      ? Math.round(generatorRssDelta / afterOpen.open)
      : null,
    'generators × sources': `${procs} × ${sources.length}`,
    'machine probe before opening': describeProbe(probe),
  };
  if (totalFailed() > 0)
    report.warnings.push(`${fmt(totalFailed())} connections failed to open: see "Failures by reason"`);
  if (pids.length === 0)
    report.warnings.push('no worker pid found: pass --worker-pids or --etcd for RSS per connection');
  report.tables.push(
    { title: 'Failures by reason (never opened)', columns: ['reason', 'count'], rows: sortedCounts(failed) },
    {
      title: 'Drops by reason (closed while held)',
      columns: ['reason', 'count'],
      rows: sortedCounts(closed),
    },
    {
      title: 'Memory samples',
      columns: ['when', 'open', 'worker RSS (MiB)', 'Redis used_memory (MiB)', 'pids'],
      rows: samples.map((s) => [
        s.label,
        s.open,
        mib(s.workerRssBytes),
        mib(s.redisUsedBytes),
        s.workerPids.join(' '),
      ]),
    },
    {
      title: 'Plan',
      columns: ['generator', 'connections', 'per source'],
      rows: plan.procs.map((p) => [p.index, p.count, JSON.stringify(p.perSource)]),
    },
  );
  report.charts.push(
    {
      title: 'Opens per second',
      xLabel: 'seconds since start',
      yLabel: 'opens/s',
      series: [
        { name: 'opened', points: opened.points() },
        { name: 'failed', points: failedPerSec.points() },
      ],
    },
    {
      title: 'Open latency (from intended open time)',
      xLabel: 'seconds since start',
      yLabel: 'ms',
      logY: true,
      series: percentileSeries(latencyBySec, [
        ['p50', 0.5],
        ['p99', 0.99],
      ]),
    },
  );
  report.data = {
    ...report.data,
    plan,
    failed,
    closed,
    samples,
    openedPerSecond: opened.points(),
    openLatencyMs: lat,
    machineProbe: probe,
  };
  const files = writeReport(report, o.out);
  return {
    report,
    files,
    opened: totalOpened,
    failed: totalFailed(),
    dropped: sumCounts(closed),
    openAtEnd: end.open,
    openRate,
    workerRssPerConn: rssPerConn,
    redisPerConn,
  };
}

const mib = (b: number | null) => (b === null ? null : Math.round((b / 2 ** 20) * 10) / 10);
/** Resolves after `ms`, or as soon as `stop` aborts (an abort only ends the wait early). */
const sleep = (ms: number, stop?: AbortSignal): Promise<void> =>
  pause(ms, undefined, stop ? { signal: stop } : {}).catch(() => undefined);

/**
 * Waits for every generator to settle for as long as opens keep being answered (opened or failed): a box
 * slower than --rate takes longer than count ÷ rate, and a fixed deadline then had the run measure while
 * opens went on (a million at --rate 2000 took 15 minutes). False after `stallMs` without a new answer. A
 * generator that dies is an error, not a stall.
 */
export async function settleWhileAnswering(
  fleet: Pick<Fleet, 'race'>,
  settled: Promise<void>,
  answered: () => number,
  stallMs: number,
  pollMs = 5_000,
): Promise<boolean> {
  let last = answered();
  let lastChange = Date.now();
  for (;;) {
    try {
      await fleet.race(settled, pollMs, 'opening connections');
      return true;
    } catch (err) {
      if (!(err instanceof GeneratorError) || !/no answer within/.test(err.message)) throw err;
    }
    const now = answered();
    if (now !== last) [last, lastChange] = [now, Date.now()];
    else if (Date.now() - lastChange >= stallMs) return false;
  }
}
