// `push`: open-loop message load at a target rate, end-to-end latency from each message's intended send time
// to its arrival at a receiver device, and an exact loss check (accepted but not received by every device).
import { check, list, type Options, type Specs } from './args.js';
import {
  PerSecond,
  buildTarget,
  defaultUidPrefix,
  memorySpecs,
  sortedCounts,
  sumCounts,
  targetSpecs,
} from './common.js';
import { describeProbe, probeBox, type BoxProbe } from './box-probe.js';
import {
  CpuRecorder,
  clockTicks,
  cpuSecondsBetween,
  machineSharesBetween,
  round2,
  type MachineShares,
} from './cpu.js';
import { Fleet } from './fleet.js';
import { Histogram, percentileSeries, toMs, type LatencySummary } from './histogram.js';
import { addCount, type ChildMessage, type PushFinal } from './ipc.js';
import { describePid, discoverPids, perConnection, sampleMemory, workerUrlsFromEtcd } from './memory.js';
import { autoProcs, autoSources, splitPlan } from './plan.js';
import { bindablePorts } from './source-ports.js';
import { Progress, fmt } from './progress.js';
import { checkLosses, type LossCheck } from './losses.js';
import { newReport, writeReport, type Report } from './report.js';
import { realClock } from './scheduler.js';
import { GcRecorder, metricsTargetsFromEtcd, type GcSeries, type MetricsTarget } from './server-gc.js';

export const pushSummary =
  'Sends messages open-loop at --rate messages/s for --duration seconds (each stamped with its intended send\n' +
  'time: a stalled server shows up as latency, not as a lower offered rate) through POST /v1/messages (http),\n' +
  'POST /v1/messages/batch (batch) or WebSocket send frames (ws), to --receivers users who ACK every message,\n' +
  'connected to every worker in turn (the workers in etcd, with --etcd) or else through the gateway. Reports\n' +
  'delivered/s, latency from intended send to receipt, losses, and the CPU time the server processes spent\n' +
  'per delivered message (from /proc/<pid>/stat).';

export const pushSpecs = {
  mode: {
    kind: 'str',
    def: 'http',
    help: 'http (POST /v1/messages), batch (POST /v1/messages/batch) or ws (send frames)',
  },
  rate: { kind: 'num', def: 1000, help: 'offered load, messages/s over all generators' },
  duration: { kind: 'num', def: 10, help: 'seconds of sending' },
  warmup: {
    kind: 'num',
    def: 0,
    help: 'first seconds of sending left out of the latency summary (still sent, checked and charted): JIT, caches and first-time conversation rows',
  },
  batchSize: {
    kind: 'int',
    def: 100,
    help: 'messages per batch request (batch mode; the server allows up to 500)',
  },
  receivers: { kind: 'int', def: 100, help: 'receiving users; message i goes to one of them in turn' },
  devices: {
    kind: 'int',
    def: 1,
    help: 'connections per receiving user; every device must get every message',
  },
  senders: {
    kind: 'int',
    def: 10,
    help: 'sending users (ws mode: sender connections); at least one per generator',
  },
  maxSockets: { kind: 'int', def: 64, help: 'HTTP keep-alive connections per generator' },
  maxInflight: {
    kind: 'int',
    def: 4096,
    help: 'unanswered messages per generator before further ones are skipped (and counted)',
  },
  connectRate: { kind: 'num', def: 2000, help: 'opens/s while connecting receivers, before the timed part' },
  drain: { kind: 'num', def: 10, help: 'seconds to wait after the last send for outstanding deliveries' },
  compare: {
    kind: 'bool',
    help: 'run against courier (--url), then the Socket.IO peer (--socketio-url); report ratios',
  },
  socketioUrl: { kind: 'str', help: 'base URL of the Socket.IO reference peer, for --compare' },
  ...memorySpecs,
  serverPids: {
    kind: 'str',
    help:
      'comma-separated pids of every server process to read CPU time from (default: --worker-pids when given,\n' +
      'plus business and dispatchers from --etcd; else found by command line: dist/cmd/{courier,worker,\n' +
      'business,dispatcher}/main.js, or the Socket.IO peer)',
  },
  serverGc: {
    kind: 'bool',
    help:
      "read each courier server process's /metrics once a second (found through --etcd, else --url): GC pauses\n" +
      'and the longest event-loop delay per second and process, charted; each read costs the process 2–20 ms\n' +
      'of CPU (more with more open files), which its CPU per message includes',
  },
  ...targetSpecs,
} satisfies Specs;

export type PushOptions = Options<typeof pushSpecs>;

export interface PushResult {
  report: Report;
  files: { json: string; html: string };
  deliveredPerSec: number; // mean of seconds 1 … duration: the rate sustained while sending
  /** All deliveries ÷ the time until the last one: what an overloaded server really got through. */
  throughput: number;
  latencyMs: LatencySummary;
  loss: LossCheck;
  accepted: number;
  failed: number;
  rssPerConn: number | null;
  /** Server CPU time per message delivered in the timed sending window (after --warmup), µs. */
  cpuPerMessageUs: number | null;
  /** Server CPU seconds in that window ÷ its length: cores kept busy on average. */
  cpuCores: number | null;
  /** How fast the machine was before and after the run, and what all of it did in the CPU window. */
  machine: MachineReading;
}

export interface MachineReading {
  probeBefore: BoxProbe;
  probeAfter: BoxProbe;
  window: MachineShares | null;
}

export async function runPush(o: PushOptions): Promise<PushResult> {
  const target = buildTarget(o);
  check(['http', 'batch', 'ws'].includes(o.mode), `--mode must be http, batch or ws (got ${o.mode})`);
  check(o.rate > 0 && o.duration > 0, '--rate and --duration must be positive');
  check(o.batchSize >= 1 && o.batchSize <= 5000, `--batch-size must be 1–5000 (got ${o.batchSize})`);
  check(o.receivers >= 1 && o.devices >= 1, '--receivers and --devices must be at least 1');
  const devices = o.receivers * o.devices;
  const procs = autoProcs(devices, o.procs, o.maxPerProc);
  const senders = Math.max(o.senders, procs);
  const sources = autoSources(devices, o.sources, o.sourceBase, o.maxPerSource);
  const plan = splitPlan({
    count: devices,
    procs,
    sources,
    maxPerProc: o.maxPerProc - Math.ceil(senders / procs),
    maxPerSource: o.maxPerSource,
    ports: bindablePorts(),
  });
  const total = Math.round(o.rate * o.duration);
  const report = newReport(
    'push',
    `courier load: ${fmt(o.rate)} msg/s ${o.mode} for ${o.duration} s (${o.target})`,
    { ...o, procs, senders },
  );
  const uidPrefix = defaultUidPrefix(o.uidPrefix);

  const sent = new PerSecond();
  const accepted = new PerSecond();
  const delivered = new PerSecond();
  const failed: Record<string, number> = {};
  const dropped: Record<string, number> = {};
  const latency = new Histogram();
  const latencyBySec = new Map<number, Histogram>();
  const inflight = new Map<number, number>();
  const finals: PushFinal[] = [];
  let duplicates = 0;
  let unexpected = 0;
  let lastSec = 0;
  const onMessage = (m: ChildMessage) => {
    if (m.type === 'push-final') finals.push(m);
    // Connection failures before the timed part: shown now and kept as a warning (details by reason follow).
    if (m.type === 'prepared' && m.note) {
      progress.note(`generator ${m.proc}: ${m.note}`);
      report.warnings.push(`generator ${m.proc}: ${m.note} before the run (see "Connection losses")`);
    }
    if (m.type !== 'tick' || m.tick.kind !== 'push') return;
    const t = m.tick;
    for (const [sec, [s, a, d]] of Object.entries(t.bySecond)) {
      sent.add(Number(sec), s);
      accepted.add(Number(sec), a);
      delivered.add(Number(sec), d);
    }
    for (const counter of [sent, accepted, delivered]) counter.reportedBefore(m.proc, m.sec);
    addCount(failed, t.failed);
    addCount(dropped, t.dropped);
    duplicates += t.duplicates;
    unexpected += t.unexpected;
    inflight.set(m.proc, t.inflight);
    for (const [sec, data] of Object.entries(t.latency)) {
      if (Number(sec) >= o.warmup) latency.merge(data);
      const h = latencyBySec.get(Number(sec)) ?? new Histogram();
      h.merge(data);
      latencyBySec.set(Number(sec), h);
      lastSec = Math.max(lastSec, Number(sec));
    }
  };
  const progress = new Progress('push', () => {
    const p99 = (latencyBySec.get(lastSec)?.percentile(0.99) ?? 0) / 1000;
    const queued = [...inflight.values()].reduce((a, b) => a + b, 0);
    return `sent ${fmt(sent.last())}/s  accepted ${fmt(accepted.total())}  delivered ${fmt(delivered.last())}/s  p99 ${p99.toFixed(1)} ms  in flight ${fmt(queued)}  failed ${fmt(sumCounts(failed))}`;
  });

  const { pids, how, cpuPids, cpuHow } = await discoverPids(o, (t) => progress.note(t));
  const workers =
    o.target === 'courier' && o.etcd ? await workerUrlsFromEtcd(list(o.etcd), o.etcdPrefix) : [];
  const placement =
    workers.length > 0
      ? `each worker in turn (${workers.length} workers in etcd)`
      : 'GET /v1/gateway (least-loaded; with --etcd, every worker in turn)';
  progress.note(`receivers placed on ${placement}`);
  progress.note(
    `server pids: RSS [${pids.join(', ')}] via ${how}; CPU [${cpuPids.join(', ')}] via ${cpuHow}`,
  );
  const gcTargets = o.serverGc ? await metricsTargets(o) : [];
  if (o.serverGc) progress.note(`GC read from: ${gcTargets.map((t) => t.name).join(', ') || 'none found'}`);
  const probeBefore = await probeBox();
  progress.note(`machine probe: ${describeProbe(probeBefore)}`);
  const before = await sampleMemory(pids, o.redisUrl, (t) => progress.note(t));
  const fleet = new Fleet(procs, onMessage);
  let after = before;
  let startMs = 0;
  let cpu: CpuRecorder | undefined;
  let generatorCpu: CpuRecorder | undefined; // the measuring side shares the cores too
  let gc: GcRecorder | undefined;
  // CPU per message is read over the timed sending window (seconds cpuFrom … cpuTo since the start, the
  // warm-up left out like in the latency summary) and divided by the deliveries counted in the same seconds.
  const cpuTo = Math.max(1, Math.ceil(o.duration));
  const cpuFrom = Math.ceil(o.warmup) < cpuTo ? Math.max(0, Math.ceil(o.warmup)) : 0;
  try {
    const prepared = fleet.expectAll('prepared');
    const settled = fleet.expectAll('settled');
    const collected = fleet.expectAll('push-final');
    const connectSeconds = (devices + senders) / o.connectRate;
    const deadlineMs = Date.now() + (connectSeconds + o.duration + o.drain + 600) * 1000;
    for (let p = 0; p < procs; p++) {
      const share = Math.floor(total / procs) + (p < total % procs ? 1 : 0);
      fleet.send(p, {
        type: 'push-job',
        proc: p,
        procs,
        plan,
        devices: o.devices,
        receivers: o.receivers,
        senders,
        target,
        workers,
        uidPrefix,
        mode: o.mode as 'http' | 'batch' | 'ws',
        batchSize: o.mode === 'batch' ? o.batchSize : 1,
        ratePerSec: o.rate / procs,
        total: share,
        maxSockets: o.maxSockets,
        maxInflight: o.maxInflight,
        connectRatePerSec: o.connectRate / procs,
        deadlineMs,
      });
    }
    progress.note(
      `connecting ${fmt(devices)} receiver devices${o.mode === 'ws' ? ` and ${senders} senders` : ''} over ${procs} generator(s) × ${sources.length} source(s)`,
    );
    await fleet.race(prepared, (connectSeconds + o.connectTimeout + 120) * 1000, 'connecting receivers');
    after = await sampleMemory(pids, o.redisUrl, (t) => progress.note(t));
    startMs = realClock.now() + 500;
    cpu = new CpuRecorder(cpuPids, startMs, realClock.now);
    cpu.start();
    generatorCpu = new CpuRecorder(fleet.pids(), startMs, realClock.now);
    generatorCpu.start();
    if (gcTargets.length > 0) {
      gc = new GcRecorder(gcTargets, startMs, realClock.now);
      gc.start();
    }
    fleet.broadcast({ type: 'go', startMs });
    progress.start();
    await fleet.race(settled, (o.duration + 120) * 1000, 'sending');
    // Drain: wait until every accepted message reached every device, or the drain period ends.
    const drainEnd = Date.now() + o.drain * 1000;
    while (Date.now() < drainEnd && delivered.total() < accepted.total() * o.devices) await sleep(100);
    await cpu.reached(cpuTo); // only waits when everything arrived before the end of the last whole second
    fleet.broadcast({ type: 'collect' });
    await fleet.race(collected, 120_000, 'collecting results');
  } finally {
    cpu?.stop();
    generatorCpu?.stop();
    await gc?.stop();
    progress.stop();
    await fleet.close();
  }
  const probeAfter = await probeBox();

  const loss = checkLosses(finals, o.devices);
  const steady = delivered.mean(1, Math.max(2, Math.ceil(o.duration)));
  const lastDelivery = delivered.points().reduce((last, [sec, n]) => (n > 0 ? sec : last), 0);
  const throughput = delivered.total() / (lastDelivery + 1);
  const lat = toMs(latency.summary());
  const connections = devices + (o.mode === 'ws' ? senders : 0);
  // Below ~1,000 connections a garbage collection moves RSS by more than the connections cost; use `conns`.
  const rssPerConn =
    connections >= 1000 ? perConnection(before.workerRssBytes, after.workerRssBytes, connections) : null;
  const maxLag = Math.max(0, ...finals.map((f) => f.maxLagMs));
  const waitingForSocket = Math.max(0, ...finals.map((f) => f.peakWaitingForSocket));
  const cpuA = cpu?.sample(cpuFrom);
  const cpuB = cpu?.sample(cpuTo);
  const cpuWindow = cpuA && cpuB ? cpuSecondsBetween(cpuA, cpuB, cpuPids) : undefined;
  const cpuWall = cpuA && cpuB ? (cpuB.atMs - cpuA.atMs) / 1000 : 0;
  const deliveredInWindow = delivered
    .points()
    .filter(([sec]) => sec >= cpuFrom && sec < cpuTo)
    .reduce((a, [, v]) => a + v, 0);
  const cpuUsable = cpuWindow !== undefined && cpuPids.length > cpuWindow.missing.length;
  // CPU seconds in the window → µs per message delivered in it, to 0.1 µs.
  const perMessage = (seconds: number | null): number | null =>
    seconds !== null && deliveredInWindow > 0 ? Math.round((seconds * 1e7) / deliveredInWindow) / 10 : null;
  const cpuPerMessageUs = cpuUsable ? perMessage(cpuWindow.seconds) : null;
  const cpuCores = cpuUsable && cpuWall > 0 ? round2(cpuWindow.seconds / cpuWall) : null;
  // Per pid, the ms per second its event loop waited for a core, on average over the same window.
  const waits = cpu?.waitPerSecond() ?? [];
  const waitInWindow = waits.map(({ points }) => meanInWindow(points, cpuFrom, cpuTo));
  const waitTotal = sumOrNull(waitInWindow);
  const generatorWaits = generatorCpu?.waitPerSecond() ?? [];
  const generatorWait = sumOrNull(generatorWaits.map(({ points }) => meanInWindow(points, cpuFrom, cpuTo)));
  const generatorCores = generatorCpu ? coresBetween(generatorCpu, cpuFrom, cpuTo) : null;
  const machine: MachineReading = {
    probeBefore,
    probeAfter,
    window: cpuA?.machine && cpuB?.machine ? machineSharesBetween(cpuA.machine, cpuB.machine, cpuWall) : null,
  };
  report.summary = {
    target: `${o.target} ${o.url}`,
    mode: o.mode,
    'receivers placed on': placement,
    'offered rate (msg/s)': o.rate,
    sent: sent.total(),
    accepted: loss.accepted,
    'failed or skipped': sumCounts(failed),
    'delivered (unique, all devices)': delivered.total(),
    'delivered/s (mean of seconds 1 … duration)': Math.round(steady),
    'delivered/s (all deliveries ÷ time to the last one)': Math.round(throughput),
    'latency p50 (ms)': lat.p50,
    'latency p90 (ms)': lat.p90,
    'latency p99 (ms)': lat.p99,
    'latency p99.9 (ms)': lat.p999,
    'latency max (ms)': lat.max,
    'lost (accepted, not received by a device connected throughout)': loss.lost,
    'missed by devices that dropped': loss.missedByDropped,
    'owed to devices that never connected': loss.notConnected,
    duplicates,
    'unexpected frames': unexpected + loss.unexpected,
    'server RSS per receiver connection (bytes)': rssPerConn,
    'server CPU per delivered message (µs)': cpuPerMessageUs,
    'server CPU (cores busy on average)': cpuCores,
    'server event loops waiting for a core (ms per second, all together)': waitTotal,
    'load generators: cores busy, and waiting for a core (ms per second, all together)':
      generatorCores === null ? null : `${generatorCores} cores, ${generatorWait ?? '—'} ms/s`,
    'machine: cores busy in that window (every process)': machine.window?.coresBusy ?? null,
    'machine: softirq / steal / iowait in that window (% of all cores)': machine.window
      ? `${machine.window.softirqPercent} / ${machine.window.stealPercent} / ${machine.window.iowaitPercent}`
      : null,
    'machine probe before → after': `${describeProbe(probeBefore)} → ${describeProbe(probeAfter)}`,
    'generator max lag (ms)': Math.round(maxLag),
    'requests waiting for a generator socket (peak)': o.mode === 'ws' ? null : waitingForSocket,
  };
  if (loss.lost > 0)
    report.warnings.push(
      `${fmt(loss.lost)} accepted messages were lost (sample keys: ${loss.sample.join(', ')})`,
    );
  if (cpuPids.length === 0)
    report.warnings.push(
      'no server pid found: pass --server-pids (or --worker-pids / --etcd) for server CPU per message',
    );
  else if (cpuWindow && cpuWindow.missing.length > 0)
    report.warnings.push(
      `server CPU leaves out pids that were gone at the start or the end of the window: ${cpuWindow.missing.join(', ')}`,
    );
  if (duplicates > 0) report.warnings.push(`${fmt(duplicates)} duplicate deliveries`);
  if (maxLag > 100)
    report.warnings.push(
      `the generators themselves lagged up to ${Math.round(maxLag)} ms behind schedule: the machine is saturated`,
    );
  if (waitingForSocket > 0)
    report.warnings.push(
      `up to ${fmt(waitingForSocket)} requests of one generator waited for a free connection of its pool ` +
        `(--max-sockets ${o.maxSockets}): sends were bounded by the pool and the server's answer time; if the ` +
        'server CPU is below its cores, raise --max-sockets to measure the server rather than the pool',
    );
  if (failed['skipped: backlog'])
    report.warnings.push(
      `${fmt(failed['skipped: backlog'])} messages skipped: more than --max-inflight messages were unanswered (the offered rate is above capacity)`,
    );
  if (o.serverGc && gcTargets.length === 0)
    report.warnings.push(
      '--server-gc: no metrics endpoint found (courier only; through --etcd, else the /metrics of --url)',
    );
  const gcSeries = gc?.series() ?? [];
  const perSecond = cpu?.machinePerSecond();
  const coresPerSecond = cpu?.coresPerSecond() ?? [];
  report.tables.push(
    { title: 'Failures by reason', columns: ['reason', 'count'], rows: sortedCounts(failed) },
    { title: 'Connection losses', columns: ['reason', 'count'], rows: sortedCounts(dropped) },
    {
      title: `Server CPU in seconds ${cpuFrom} … ${cpuTo} of sending (${fmt(deliveredInWindow)} messages delivered in them)`,
      columns: [
        'pid',
        'process',
        'CPU (s)',
        'µs per delivered message',
        'cores busy',
        'waited for a core (ms/s)',
      ],
      rows: cpuPids.map((pid, i) => {
        const s = cpuWindow?.perPid[i] ?? null;
        const busy = s !== null && cpuWall > 0 ? round2(s / cpuWall) : null;
        return [pid, describePid(pid), s, perMessage(s), busy, waitInWindow[i] ?? null];
      }),
    },
  );
  if (gcSeries.length > 0) report.tables.push(gcTable(gcSeries, cpuFrom, cpuTo));
  report.charts.push(
    {
      title: 'Messages per second',
      xLabel: 'seconds since start',
      yLabel: 'messages/s',
      series: [
        { name: 'sent', points: sent.points() },
        { name: 'accepted', points: accepted.points() },
        { name: 'delivered', points: delivered.points() },
      ],
    },
    {
      title: 'End-to-end latency from intended send time',
      xLabel: 'seconds since start (arrival)',
      yLabel: 'ms',
      logY: true,
      series: percentileSeries(latencyBySec, [
        ['p50', 0.5],
        ['p90', 0.9],
        ['p99', 0.99],
        ['max', 1],
      ]),
    },
    {
      title: 'CPU: the server processes and the whole machine',
      xLabel: 'seconds since start',
      yLabel: 'cores busy',
      series: [
        { name: 'server processes', points: coresPerSecond },
        { name: 'whole machine', points: perSecond?.busy ?? [] },
      ],
    },
    {
      title: 'Server event loops waiting for a core (run queue), by process',
      xLabel: 'seconds since start',
      yLabel: 'ms per second',
      series: [
        ...waits.map(({ pid, points }) => ({ name: `${describePid(pid)} ${pid}`, points })),
        { name: 'load generators (all)', points: summedPerSecond(generatorWaits) },
      ],
    },
    {
      title: 'Whole machine: iowait (a stalled fsync shows here)',
      xLabel: 'seconds since start',
      yLabel: '% of all cores',
      series: [{ name: 'iowait', points: perSecond?.iowait ?? [] }],
    },
  );
  if (gcSeries.length > 0)
    report.charts.push(
      {
        title: 'GC pauses per second, by server process',
        xLabel: 'seconds since start',
        yLabel: 'ms paused',
        series: gcSeries.map((g) => ({ name: g.name, points: g.gcMs })),
      },
      {
        title: 'Longest event-loop delay per second, by server process',
        xLabel: 'seconds since start',
        yLabel: 'ms',
        logY: true,
        series: gcSeries.map((g) => ({ name: g.name, points: g.lagMaxMs })),
      },
    );
  report.data = {
    failed,
    dropped,
    loss,
    latencyMs: lat,
    perSecond: { sent: sent.points(), accepted: accepted.points(), delivered: delivered.points() },
    latencyHistogram: latency.toData(),
    cpu: {
      pids: cpuPids.map((pid, i) => ({
        pid,
        process: describePid(pid),
        seconds: cpuWindow?.perPid[i] ?? null,
        perMessageUs: perMessage(cpuWindow?.perPid[i] ?? null),
      })),
      found: cpuHow,
      clockTicksPerSecond: clockTicks(),
      windowSeconds: [cpuFrom, cpuTo],
      windowWallSeconds: round2(cpuWall),
      cpuSeconds: cpuWindow ? round2(cpuWindow.seconds) : null,
      deliveredInWindow,
      perMessageUs: cpuPerMessageUs,
      coresBusy: cpuCores,
      coresPerSecond,
      waitMsPerSecond: waits,
      samples: cpu?.samples ?? [],
      generators: {
        pids: generatorCpu?.pids ?? [],
        coresBusy: generatorCores,
        waitMsPerSecond: generatorWaits,
      },
    },
    machine,
    ...(gcSeries.length > 0 ? { serverGc: gcSeries } : {}),
  };
  const files = writeReport(report, o.out);
  return {
    report,
    files,
    deliveredPerSec: steady,
    throughput,
    latencyMs: lat,
    loss,
    accepted: loss.accepted,
    failed: sumCounts(failed),
    rssPerConn,
    cpuPerMessageUs,
    cpuCores,
    machine,
  };
}

/** The points of a per-second series in seconds [from, to). */
function within(points: [number, number][], from: number, to: number): [number, number][] {
  return points.filter(([sec]) => sec >= from && sec < to);
}

/** The mean of a per-second series over seconds [from, to), or null when it has none there. */
function meanInWindow(points: [number, number][], from: number, to: number): number | null {
  const inWindow = within(points, from, to);
  return inWindow.length > 0 ? round2(inWindow.reduce((a, [, v]) => a + v, 0) / inWindow.length) : null;
}

/** Cores a recorder's processes kept busy between its readings of seconds `from` and `to`. */
function coresBetween(recorder: CpuRecorder, from: number, to: number): number | null {
  const a = recorder.sample(from);
  const b = recorder.sample(to);
  if (!a || !b || b.atMs <= a.atMs) return null;
  return round2(cpuSecondsBetween(a, b, recorder.pids).seconds / ((b.atMs - a.atMs) / 1000));
}

function sumOrNull(values: (number | null)[]): number | null {
  return values.some((v) => v !== null) ? round2(values.reduce<number>((a, v) => a + (v ?? 0), 0)) : null;
}

/** Several processes' per-second series added up, second by second. */
function summedPerSecond(series: { points: [number, number][] }[]): [number, number][] {
  const sums = new Map<number, number>();
  for (const { points } of series) for (const [sec, v] of points) sums.set(sec, (sums.get(sec) ?? 0) + v);
  return [...sums].sort(([a], [b]) => a - b).map(([sec, v]) => [sec, round2(v)]);
}

/** Where `--server-gc` reads: every node of the cluster in etcd, else the one process behind --url. */
async function metricsTargets(o: PushOptions): Promise<MetricsTarget[]> {
  if (o.target !== 'courier') return [];
  if (o.etcd) return metricsTargetsFromEtcd(list(o.etcd), o.etcdPrefix);
  return [{ name: 'courier', url: new URL('/metrics', o.url).href }];
}

/** Each process's pauses over the timed window (the seconds the CPU per message is read over). */
function gcTable(series: GcSeries[], from: number, to: number): Report['tables'][number] {
  const inWindow = (points: [number, number][]) => within(points, from, to);
  const worst = (points: [number, number][]) =>
    points.reduce<[number, number] | null>((w, p) => (w === null || p[1] > w[1] ? p : w), null);
  const sum = (points: [number, number][]) => round2(points.reduce((a, [, v]) => a + v, 0));
  const at = (p: [number, number] | null) => (p ? `${p[1]} ms (second ${p[0]})` : null);
  return {
    title: `GC pauses and event-loop delay in seconds ${from} … ${to} of sending, by server process`,
    columns: ['process', 'GC paused (ms)', 'of it major (ms)', 'worst GC second', 'longest event-loop delay'],
    rows: series.map((g) => [
      g.name,
      sum(inWindow(g.gcMs)),
      sum(inWindow(g.majorMs)),
      at(worst(inWindow(g.gcMs))),
      at(worst(inWindow(g.lagMaxMs))),
    ]),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
