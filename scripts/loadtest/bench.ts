// `npm run bench`: a short, reproducible version of issue 6's targets 2 and 4. It starts everything itself
// (redis-server for the Socket.IO adapter, courier, the Socket.IO peer), measures both with the same tools
// in the same run, prints the headline numbers and courier/Socket.IO ratios, and stops what it started.
import { check, list, parseOptions, type Specs } from './args.js';
import { comparisonReport, headline, type Metric } from './compare.js';
import { median, total } from './stats.js';
import { connsSpecs, runConns, type ConnsOptions, type ConnsResult } from './conns.js';
import {
  startAllInOne,
  startCluster,
  startRedisServer,
  startRelayPeer,
  startSocketIoPeer,
  type CourierUnderTest,
  type Started,
} from './local-servers.js';
import { fmt } from './progress.js';
import { pushSpecs, runPush, type PushResult } from './push.js';
import { writeReport } from './report.js';

export const benchSummary =
  'Starts courier (all-in-one, or a cluster with --cluster) and the Socket.IO reference peer on free loopback\n' +
  'ports, then runs with both, one after the other: conns (open rate, memory per connection), push capacity\n' +
  'runs (offered load above capacity: delivered/s) and push latency runs (both at half the lower capacity:\n' +
  'p99, server CPU per message). Prints courier/Socket.IO ratios and writes reports/bench-<time>.{json,html}.\n' +
  'About 3–4 minutes; --runs N repeats every measurement N times and reports the medians.';

export const benchSpecs = {
  cluster: {
    kind: 'bool',
    help: 'courier as a cluster (Redis registry, etcd, MariaDB) instead of the all-in-one',
  },
  workers: {
    kind: 'int',
    def: 2,
    help: 'worker processes with --cluster (the peer gets as many processes as courier has)',
  },
  dispatchers: {
    kind: 'int',
    def: 1,
    help: 'dispatcher processes with --cluster; 0 = the business process runs its own',
  },
  online: {
    kind: 'int',
    def: 0,
    help:
      'idle connections held on courier through every push run (conns generators: pings answered), as in\n' +
      'target 2 (100,000 online); courier only, so it needs --no-socketio',
  },
  onlineRate: { kind: 'num', def: 3000, help: 'open rate of the --online connections (opens/s)' },
  conns: { kind: 'int', def: 10_000, help: 'connections of the conns runs (0 = no conns runs)' },
  connsRate: {
    kind: 'num',
    def: 5000,
    help: 'target open rate of the conns runs (opens/s): above target 3 (4,000/s), so the run shows what is reached',
  },
  hold: { kind: 'num', def: 10, help: 'seconds the conns runs hold their connections' },
  modes: { kind: 'str', def: 'http,batch', help: 'push modes to measure (http, batch, ws)' },
  httpRate: {
    kind: 'num',
    def: 16000,
    help: 'offered msg/s of the http capacity runs (above capacity on purpose)',
  },
  batchRate: { kind: 'num', def: 40000, help: 'offered msg/s of the batch capacity runs' },
  wsRate: { kind: 'num', def: 8000, help: 'offered msg/s of the ws capacity runs' },
  latencyRates: {
    kind: 'str',
    def: '',
    help:
      "msg/s of the latency runs per mode, e.g. http=1500,batch=10000 (half of target 2's rates); a mode not\n" +
      'listed runs at half the lower capacity',
  },
  duration: { kind: 'num', def: 10, help: 'seconds of sending per push run' },
  warmup: {
    kind: 'num',
    def: 2,
    help: 'first seconds of each push run left out of its latency summary and of its server CPU per message',
  },
  receivers: { kind: 'int', def: 500, help: 'receiving users of the push runs' },
  maxSockets: { kind: 'int', def: 64, help: 'HTTP keep-alive connections per push generator' },
  serverGc: {
    kind: 'bool',
    help: "push's --server-gc: every server process's GC pauses and event-loop delay per second (costs CPU)",
  },
  procs: { kind: 'int', def: 2, help: 'generator processes per run' },
  runs: {
    kind: 'int',
    def: 1,
    help:
      'run every measurement (conns, each capacity and latency run, for each system) this many times and\n' +
      'report the median of each figure (losses and failures: the total); the servers are restarted before\n' +
      'each conns run after the first, as RSS never shrinks. Each run adds about the default duration again',
  },
  noSocketio: { kind: 'bool', help: 'measure courier only (no ratios)' },
  floor: {
    kind: 'bool',
    help:
      'also run each capacity run against peers/relay-server.ts at twice the offered rate: a server that only\n' +
      'relays (no store, no checks), so the most this box and these generators leave any server; prints\n' +
      "courier's and the peer's share of it",
  },
  out: { kind: 'str', def: 'reports', help: 'directory for the reports' },
} satisfies Specs;

type Mode = 'http' | 'batch' | 'ws';
const MODES: readonly string[] = ['http', 'batch', 'ws'] satisfies Mode[];
const isMode = (m: string | undefined): m is Mode => m !== undefined && MODES.includes(m);

export interface BenchResult {
  metrics: Metric[];
  /** courier against the targets of issue 6, as printed. */
  lines: string[];
  files: { json: string; html: string };
  /** Every run bench made, in order, with its own report files. */
  runs: { name: string; files: { json: string; html: string } }[];
  /** With --floor: the relay's delivered/s at capacity per mode (median of the runs). */
  floor: Partial<Record<Mode, number>>;
}

// The relay's capacity runs offer this many times the mode's offered rate: a relay keeps up with the rates
// that saturate courier and the peer (measured: 16,000 http and 40,000 batch msg/s, all delivered).
const FLOOR_OFFER = 2;

// One process may hold at most 20,000 files here; a worker (or the all-in-one) is given at most this many
// connections by --online and the receivers together.
const CONNECTIONS_PER_WORKER = 18_000;

export async function runBench(argv: string[]): Promise<BenchResult> {
  const o = parseOptions('bench', benchSummary, benchSpecs, argv);
  const asked = list(o.modes);
  check(asked.every(isMode), `--modes: http, batch and/or ws (got ${o.modes})`);
  const modes = asked.filter(isMode);
  check(o.runs >= 1 && o.runs <= 20, `--runs must be 1–20 (got ${o.runs})`);
  check(o.conns >= 0, `--conns must be 0 or more (got ${o.conns})`);
  check(o.dispatchers >= 0, `--dispatchers must be 0 or more (got ${o.dispatchers})`);
  const latencyRates = parseLatencyRates(o.latencyRates);
  check(o.online >= 0, `--online must be 0 or more (got ${o.online})`);
  if (o.online > 0) {
    check(
      o.noSocketio,
      '--online holds idle connections on courier only: add --no-socketio (the comparison with the peer is made without them)',
    );
    const processes = o.cluster ? o.workers : 1;
    check(
      o.online + o.receivers <= processes * CONNECTIONS_PER_WORKER,
      `--online ${o.online} and --receivers ${o.receivers} need more than ${processes} worker process(es) of ` +
        `${fmt(CONNECTIONS_PER_WORKER)} connections (one process may hold 20,000 files here): use --cluster --workers N`,
    );
  }
  const say = (t: string) => process.stderr.write(`[bench] ${t}\n`);
  const runs: { name: string; files: { json: string; html: string } }[] = [];
  const metrics: Metric[] = [];
  const lines: string[] = [];
  const of = o.runs > 1 ? ` (median of ${o.runs} runs)` : '';
  // One figure from N runs of each system: the median (losses and failures: the total), every run kept.
  const metric = (
    m: Omit<Metric, 'courier' | 'socketio' | 'runs'>,
    c: (number | null)[],
    s: (number | null)[] | undefined,
    as: 'median' | 'total' = 'median',
  ): Metric => {
    const combine = as === 'median' ? median : total;
    return {
      ...m,
      courier: combine(c),
      socketio: s ? combine(s) : null,
      ...(o.runs > 1 ? { runs: { courier: c, socketio: s ?? [], as } } : {}),
    };
  };
  const repeat = async <T>(what: (run: number) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let r = 1; r <= o.runs; r++) out.push(await what(r));
    return out;
  };
  const label = (run: number) => (o.runs > 1 ? ` #${run}` : '');

  let courier: CourierUnderTest | undefined;
  let peer: (Started & { url: string }) | undefined;
  let redis: (Started & { url: string }) | undefined;
  let relay: (Started & { url: string }) | undefined;
  let online: Online | undefined;
  const floor: Partial<Record<Mode, number>> = {};
  const peerProcs = o.cluster ? o.workers + 1 + o.dispatchers : 1; // as many server processes as courier runs
  const startServers = async () => {
    say(
      o.cluster ? `starting a courier cluster with ${o.workers} workers` : 'starting the courier all-in-one',
    );
    // Online connections come from loopback addresses 127.0.0.2… as destinations (conns --spread), so the
    // cluster listens on all of them.
    const host = o.online > 0 ? '0.0.0.0' : undefined;
    courier = await (o.cluster
      ? startCluster(o.workers, { dispatchers: o.dispatchers, host })
      : startAllInOne());
    if (redis) peer = await startSocketIoPeer(redis.url, peerProcs);
  };
  const stopServers = async () => {
    for (const s of [peer, courier])
      await s?.stop().catch((err: unknown) => say(`stop failed: ${(err as Error).message}`));
    peer = undefined;
    courier = undefined;
  };
  try {
    if (!o.noSocketio) {
      say('starting redis-server (Socket.IO adapter)');
      redis = await startRedisServer();
    }
    await startServers();
    if (o.floor) {
      say('starting the relay (the floor)');
      relay = await startRelayPeer();
    }
    const base = { procs: o.procs, out: o.out };
    const courierTarget = () => {
      const c = courier as CourierUnderTest;
      return {
        ...base,
        jwtSecret: c.jwtSecret,
        apiKey: c.apiKey,
        target: 'courier',
        url: c.url,
        workerPids: c.pids.join(','),
        serverPids: c.serverPids.join(','),
        redisUrl: c.redisUrl,
        etcd: c.etcd, // a cluster's: push places its receivers on every worker in turn ('' = the all-in-one)
      };
    };
    const peerTarget = () =>
      peer
        ? {
            ...base,
            // The peer ignores tokens and keys; passed as before, so both systems get the same requests.
            jwtSecret: courier?.jwtSecret ?? '',
            apiKey: courier?.apiKey ?? '',
            target: 'socketio',
            url: peer.url,
            workerPids: peer.pids.join(','),
            serverPids: peer.pids.join(','),
            redisUrl: redis?.url ?? '',
            etcd: '',
          }
        : undefined;
    type Target = ReturnType<typeof courierTarget>;
    // The relay speaks courier's protocol and reads a token's uid without checking it: courier's secret will do.
    const relayTarget = (r: Started & { url: string }): Target => ({
      ...courierTarget(),
      apiKey: '',
      url: r.url,
      workerPids: r.pids.join(','),
      serverPids: r.pids.join(','),
      redisUrl: '',
      etcd: '',
    });

    const conns = async (t: Target, name: string): Promise<ConnsResult> => {
      say(`conns ${name}: ${fmt(o.conns)} connections at ${fmt(o.connsRate)}/s, hold ${o.hold} s`);
      const defaults = parseOptions('conns', '', connsSpecs, []);
      const r = await runConns({ ...defaults, ...t, count: o.conns, rate: o.connsRate, hold: o.hold });
      runs.push({ name: `conns ${name}`, files: r.files });
      return r;
    };
    const push = async (
      t: Target,
      name: string,
      mode: Mode,
      rate: number,
      kind: string,
    ): Promise<PushResult> => {
      say(`push ${name} ${mode} ${kind}: ${fmt(rate)} msg/s for ${o.duration} s to ${o.receivers} receivers`);
      const defaults = parseOptions('push', '', pushSpecs, []);
      const r = await runPush({
        ...defaults,
        ...t,
        mode,
        rate,
        duration: o.duration,
        warmup: o.warmup,
        receivers: o.receivers,
        senders: Math.max(10, o.procs),
        // About 50 batches a second: at low rates a full batch of 100 would wait for seconds to fill.
        batchSize: Math.min(100, Math.max(1, Math.round(rate / 50))),
        maxSockets: o.maxSockets,
        serverGc: o.serverGc,
        drain: 5,
      });
      runs.push({ name: `push ${name} ${mode} ${kind}`, files: r.files });
      return r;
    };

    const connsPhase = async () => {
      // RSS does not shrink after a run: every conns run after the first gets freshly started servers.
      const connsRuns = await repeat(async (run) => {
        if (run > 1) {
          say(
            `restarting the servers for conns run ${run} of ${o.runs} (RSS is only meaningful on a fresh server)`,
          );
          await stopServers();
          await startServers();
        }
        const c = await conns(courierTarget(), `courier${label(run)}`);
        const pt = peerTarget();
        const s = pt ? await conns(pt, `Socket.IO${label(run)}`) : undefined;
        return { c, s };
      });
      const cc = connsRuns.map((r) => r.c);
      const sc = peerTarget() ? connsRuns.map((r) => r.s as ConnsResult) : undefined;
      const openRate = metric(
        { name: 'open rate (/s)', better: 'higher' },
        cc.map((r) => Math.round(r.openRate)),
        sc?.map((r) => Math.round(r.openRate)),
      );
      metrics.push(
        openRate,
        metric(
          { name: 'server RSS per connection (bytes)', better: 'lower', aim: '≤ 0.5' },
          cc.map((r) => r.workerRssPerConn),
          sc?.map((r) => r.workerRssPerConn),
        ),
        metric(
          { name: 'Redis per connection (bytes)', better: 'lower' },
          cc.map((r) => r.redisPerConn),
          sc?.map((r) => r.redisPerConn),
        ),
        metric(
          { name: `connections failed${o.runs > 1 ? ' (all runs)' : ''}`, better: 'lower' },
          cc.map((r) => r.failed),
          sc?.map((r) => r.failed),
          'total',
        ),
      );
      lines.push(
        `courier open rate: ${fmt(openRate.courier ?? 0)}/s at an asked ${fmt(o.connsRate)}/s${of} (target 3: ≥ 4,000/s)`,
      );
    };
    if (o.conns > 0) await connsPhase();
    const offered: Record<Mode, number> = { http: o.httpRate, batch: o.batchRate, ws: o.wsRate };
    // Target 2 counts 100,000 connections online: held by conns generators from before the first push run
    // to after the last, so every capacity and latency run pays for them.
    if (o.online > 0) {
      say(`opening ${fmt(o.online)} idle connections at ${fmt(o.onlineRate)}/s, held through the push runs`);
      online = await holdOnline(courierTarget(), o.online, o.onlineRate, o.cluster);
      say(`${fmt(online.open)} online; push runs start`);
    }
    const scale = online
      ? `with ${fmt(online.open)} more connections online`
      : `measured here with ${fmt(o.receivers)} receivers, not 100,000 online`;
    for (const mode of modes) {
      // Each round runs courier and then the peer, so a slow spell of the machine hits both alike.
      const capacity = await repeat(async (run) => {
        const c = await push(courierTarget(), `courier${label(run)}`, mode, offered[mode], 'capacity');
        const pt = peerTarget();
        const s = pt ? await push(pt, `Socket.IO${label(run)}`, mode, offered[mode], 'capacity') : undefined;
        const f = relay
          ? await push(
              relayTarget(relay),
              `relay${label(run)}`,
              mode,
              FLOOR_OFFER * offered[mode],
              'capacity',
            )
          : undefined;
        return { c, s, f };
      });
      const cCap = capacity.map((r) => Math.round(r.c.throughput));
      const sCap = peerTarget() ? capacity.map((r) => Math.round((r.s as PushResult).throughput)) : undefined;
      const fCap = relay ? capacity.map((r) => Math.round((r.f as PushResult).throughput)) : [];
      // A system that kept up with the offered rate showed that rate, not its capacity, and a ratio between
      // it and the other would be wrong (session 10: both systems "delivered" the offered 8,000 http/s).
      for (const [system, caps, offer] of [
        ['courier', cCap, offered[mode]],
        ['Socket.IO', sCap ?? [], offered[mode]],
        ['the relay', fCap, FLOOR_OFFER * offered[mode]],
      ] as const) {
        if (caps.some((c) => c >= 0.9 * offer)) {
          lines.push(
            `warning: ${system} ${mode} capacity runs delivered ${caps.map(fmt).join(', ')} msg/s of an offered ${fmt(offer)}/s: ` +
              `that is the offered rate, not a capacity; run again with a higher --${mode}-rate`,
          );
        }
      }
      const capMetric = metric(
        { name: `${mode}: delivered/s at capacity`, better: 'higher', aim: '≥ 2' },
        cCap,
        sCap,
      );
      if (relay) {
        const f = median(fCap);
        lines.push(floorLine(mode, f, capMetric, of));
        if (f !== null) floor[mode] = f;
      }
      const latencyRate =
        latencyRates[mode] ??
        Math.max(1, Math.round(Math.min(capMetric.courier ?? 0, capMetric.socketio ?? Infinity) / 2));
      const latency = await repeat(async (run) => {
        const c = await push(courierTarget(), `courier${label(run)}`, mode, latencyRate, 'latency');
        const pt = peerTarget();
        const s = pt ? await push(pt, `Socket.IO${label(run)}`, mode, latencyRate, 'latency') : undefined;
        return { c, s };
      });
      const cLat = latency.map((r) => r.c);
      const sLat = peerTarget() ? latency.map((r) => r.s as PushResult) : undefined;
      const p99 = metric(
        { name: `${mode}: p99 ms at ${fmt(latencyRate)} msg/s`, better: 'lower', aim: '≤ 1' },
        cLat.map((r) => r.latencyMs.p99),
        sLat?.map((r) => r.latencyMs.p99),
      );
      const cpu = metric(
        { name: `${mode}: server CPU µs per message at ${fmt(latencyRate)} msg/s`, better: 'lower' },
        cLat.map((r) => r.cpuPerMessageUs),
        sLat?.map((r) => r.cpuPerMessageUs),
      );
      const cores = metric(
        { name: `${mode}: server cores busy at ${fmt(latencyRate)} msg/s`, better: 'lower' },
        cLat.map((r) => r.cpuCores),
        sLat?.map((r) => r.cpuCores),
      );
      // The same fixed work timed just before each latency run: a ratio far from 1 means the machine itself
      // was faster for one system than for the other (box-probe.ts).
      const probe = (key: 'jsNsPerOp' | 'loopbackRoundTripUs') => (r: PushResult) =>
        r.machine.probeBefore[key];
      const probes = [
        metric(
          { name: `${mode}: machine probe before the latency run, JSON ns/op`, better: 'lower' },
          cLat.map(probe('jsNsPerOp')),
          sLat?.map(probe('jsNsPerOp')),
        ),
        metric(
          {
            name: `${mode}: machine probe before the latency run, loopback round trip µs`,
            better: 'lower',
          },
          cLat.map(probe('loopbackRoundTripUs')),
          sLat?.map(probe('loopbackRoundTripUs')),
        ),
      ];
      // Per round: what its capacity run and its latency run lost together.
      const lost = (side: 'c' | 's') =>
        capacity.map((cap, i) => {
          const a = cap[side];
          const b = latency[i]?.[side];
          return a && b ? a.loss.lost + b.loss.lost : null;
        });
      metrics.push(
        capMetric,
        p99,
        cpu,
        cores,
        metric(
          { name: `${mode}: lost (all runs)`, better: 'lower', aim: '0' },
          lost('c'),
          peerTarget() ? lost('s') : undefined,
          'total',
        ),
        ...probes,
      );
      const goal = mode === 'batch' ? 20_000 : mode === 'http' ? 3_000 : undefined;
      if (goal) {
        lines.push(
          `courier ${mode}: ${fmt(capMetric.courier ?? 0)} msg/s delivered${of} (target ${fmt(goal)}; ${scale})`,
        );
        lines.push(
          `courier ${mode}: p99 ${p99.courier ?? '—'} ms at ${fmt(latencyRate)} msg/s${of} (target ≤ 50 ms at ${fmt(goal / 2)} msg/s)`,
        );
      }
      lines.push(
        `courier ${mode}: server CPU ${cpu.courier ?? '—'} µs per delivered message at ${fmt(latencyRate)} msg/s, ${cores.courier ?? '—'} cores busy${of}`,
      );
    }
    if (online) {
      const held = await online.release();
      online = undefined;
      runs.push({ name: 'conns online', files: held.files });
      metrics.push(
        metric(
          { name: 'online through the push runs: open at the end', better: 'higher' },
          [held.openAtEnd],
          undefined,
        ),
        metric(
          { name: 'online: failed to open or dropped', better: 'lower', aim: '0' },
          [held.failed + held.dropped],
          undefined,
          'total',
        ),
      );
      lines.unshift(
        `online: ${fmt(held.openAtEnd)} of ${fmt(o.online)} idle connections open at the end of the push runs ` +
          `(${fmt(held.failed)} failed to open, ${fmt(held.dropped)} dropped)`,
      );
    }
  } finally {
    await online?.abandon();
    say('stopping what bench started');
    await stopServers();
    for (const s of [relay, redis])
      await s?.stop().catch((err: unknown) => say(`stop failed: ${(err as Error).message}`));
  }
  const report = comparisonReport(
    'bench',
    `courier bench${o.cluster ? ` (cluster, ${o.workers} workers)` : ' (all-in-one)'}${of}`,
    o,
    metrics,
    runs,
  );
  if (o.floor) report.data = { ...report.data, floor };
  report.tables.unshift({
    title: 'courier against the targets of issue 6',
    columns: ['measured'],
    rows: lines.map((l) => [l]),
  });
  const files = writeReport(report, o.out);
  process.stdout.write(`\n${headline(metrics)}\n\n${lines.join('\n')}\n\nreport: ${files.html}\n`);
  return { metrics, lines, files, runs, floor };
}

/**
 * What the relay's capacity says about the others: each system's share of it, and whether the throughput
 * aim of target 4 (twice the peer) fits under it at all.
 */
export function floorLine(mode: string, relay: number | null, cap: Metric, of: string): string {
  if (!relay) return `floor ${mode}: the relay delivered nothing`;
  const share = (v: number | null) => (v === null ? '—' : `${Math.round((100 * v) / relay)} %`);
  const aim =
    cap.socketio === null
      ? ''
      : `; twice Socket.IO would be ${share(2 * cap.socketio)}${2 * cap.socketio > relay ? ', above what a server that does nothing reaches here' : ''}`;
  return (
    `floor ${mode}: a relay that stores and checks nothing delivered ${fmt(relay)} msg/s${of}; ` +
    `courier ${share(cap.courier)} of it, Socket.IO ${share(cap.socketio)}${aim}`
  );
}

interface Online {
  open: number; // connections open when the push runs started
  /** Ends the hold; resolves with what conns measured. */
  release(): Promise<ConnsResult>;
  /** Ends the hold after a failed run, leaving that failure to be the one reported. */
  abandon(): Promise<void>;
}

// --online is ended by bench after its last push run; this only bounds the generators if bench dies.
const ONLINE_HOLD_LIMIT_S = 6 * 3600;

/**
 * Opens `count` idle connections on courier through conns generators and holds them (pings answered) until
 * released: target 2 counts 100,000 online through every push run. Resolves once they are open and settled.
 */
async function holdOnline(
  target: Partial<ConnsOptions>,
  count: number,
  rate: number,
  spread: boolean, // destinations 127.0.0.2…: a cluster that listens on 0.0.0.0
): Promise<Online> {
  const stop = new AbortController();
  let holding: (open: number) => void = () => undefined;
  const held = new Promise<number>((resolve) => (holding = resolve));
  const result = runConns(
    {
      ...parseOptions('conns', '', connsSpecs, []),
      ...target,
      procs: 0, // as many generators as keep each under --max-per-proc
      maxPerProc: CONNECTIONS_PER_WORKER,
      spread,
      count,
      rate,
      hold: ONLINE_HOLD_LIMIT_S,
    },
    { onHolding: holding, stop: stop.signal },
  );
  const open = await Promise.race([
    held,
    result.then(() => {
      throw new Error('the online connections ended before the push runs');
    }),
  ]);
  return {
    open,
    release: () => {
      stop.abort();
      return result;
    },
    abandon: async () => {
      stop.abort();
      await result.catch(() => undefined);
    },
  };
}

/** `http=1500,batch=10000` → the latency-run rate of each mode listed. */
export function parseLatencyRates(text: string): Partial<Record<Mode, number>> {
  const rates: Partial<Record<Mode, number>> = {};
  for (const part of list(text)) {
    const [mode, rate] = part.split('=');
    const n = Number(rate);
    check(
      isMode(mode) && rate !== undefined && Number.isFinite(n) && n > 0,
      `--latency-rates: mode=msg/s pairs of http, batch or ws separated by commas, e.g. http=1500,batch=10000 (got ${part})`,
    );
    rates[mode as Mode] = n;
  }
  return rates;
}
