// `npm run bench`: a short, reproducible version of issue 6's targets 2 and 4. It starts everything itself
// (redis-server for the Socket.IO adapter, courier, the Socket.IO peer), measures both with the same tools
// in the same run, prints the headline numbers and courier/Socket.IO ratios, and stops what it started.
import { check, parseOptions, type Specs } from './args.js';
import { headline, comparisonReport, type Metric } from './compare.js';
import { connsSpecs, runConns, type ConnsResult } from './conns.js';
import {
  startAllInOne,
  startCluster,
  startRedisServer,
  startSocketIoPeer,
  type Started,
} from './local-servers.js';
import { fmt } from './progress.js';
import { pushSpecs, runPush, type PushResult } from './push.js';
import { writeReport } from './report.js';

export const benchSummary =
  'Starts courier (all-in-one, or a cluster with --cluster) and the Socket.IO reference peer on free loopback\n' +
  'ports, then runs with both, one after the other: conns (open rate, memory per connection), push capacity\n' +
  'runs (offered load above capacity: delivered/s) and push latency runs (both at half the lower capacity:\n' +
  'p99). Prints courier/Socket.IO ratios and writes reports/bench-<time>.{json,html}. About 3–4 minutes.';

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
  conns: { kind: 'int', def: 5000, help: 'connections of the conns runs' },
  connsRate: { kind: 'num', def: 2000, help: 'target open rate of the conns runs (opens/s)' },
  hold: { kind: 'num', def: 10, help: 'seconds the conns runs hold their connections' },
  modes: { kind: 'str', def: 'http,batch', help: 'push modes to measure (http, batch, ws)' },
  httpRate: {
    kind: 'num',
    def: 8000,
    help: 'offered msg/s of the http capacity runs (above capacity on purpose)',
  },
  batchRate: { kind: 'num', def: 40000, help: 'offered msg/s of the batch capacity runs' },
  wsRate: { kind: 'num', def: 8000, help: 'offered msg/s of the ws capacity runs' },
  duration: { kind: 'num', def: 10, help: 'seconds of sending per push run' },
  warmup: { kind: 'num', def: 2, help: 'first seconds of each push run left out of its latency summary' },
  receivers: { kind: 'int', def: 500, help: 'receiving users of the push runs' },
  procs: { kind: 'int', def: 2, help: 'generator processes per run' },
  noSocketio: { kind: 'bool', help: 'measure courier only (no ratios)' },
  out: { kind: 'str', def: 'reports', help: 'directory for the reports' },
} satisfies Specs;

type Mode = 'http' | 'batch' | 'ws';

export async function runBench(argv: string[]): Promise<void> {
  const o = parseOptions('bench', benchSummary, benchSpecs, argv);
  const modes = o.modes.split(',').map((m) => m.trim()) as Mode[];
  check(
    modes.every((m) => ['http', 'batch', 'ws'].includes(m)),
    `--modes: http, batch and/or ws (got ${o.modes})`,
  );
  const say = (t: string) => process.stderr.write(`[bench] ${t}\n`);
  const started: Started[] = [];
  const runs: { name: string; files: { json: string; html: string } }[] = [];
  const metrics: Metric[] = [];
  const lines: string[] = [];
  try {
    say(
      o.cluster ? `starting a courier cluster with ${o.workers} workers` : 'starting the courier all-in-one',
    );
    const courier = await (o.cluster ? startCluster(o.workers) : startAllInOne());
    started.push(courier);
    let peer: (Started & { url: string }) | undefined;
    let redisUrl = '';
    if (!o.noSocketio) {
      say('starting redis-server (Socket.IO adapter) and the Socket.IO peer');
      const redis = await startRedisServer();
      started.push(redis);
      redisUrl = redis.url;
      const peerProcs = o.cluster ? o.workers + 2 : 1; // as many server processes as courier runs
      peer = await startSocketIoPeer(redis.url, peerProcs);
      started.push(peer);
    }
    const base = { jwtSecret: courier.jwtSecret, apiKey: courier.apiKey, procs: o.procs, out: o.out };
    const courierTarget = {
      ...base,
      target: 'courier',
      url: courier.url,
      workerPids: courier.pids.join(','),
      redisUrl: courier.redisUrl,
    };
    const peerTarget = peer
      ? { ...base, target: 'socketio', url: peer.url, workerPids: peer.pids.join(','), redisUrl }
      : undefined;

    const conns = async (t: typeof courierTarget, name: string): Promise<ConnsResult> => {
      say(`conns ${name}: ${fmt(o.conns)} connections at ${fmt(o.connsRate)}/s, hold ${o.hold} s`);
      const defaults = parseOptions('conns', '', connsSpecs, []);
      const r = await runConns({ ...defaults, ...t, count: o.conns, rate: o.connsRate, hold: o.hold });
      runs.push({ name: `conns ${name}`, files: r.files });
      return r;
    };
    const push = async (
      t: typeof courierTarget,
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
        drain: 5,
      });
      runs.push({ name: `push ${name} ${mode} ${kind}`, files: r.files });
      return r;
    };

    const cc = await conns(courierTarget, 'courier');
    const sc = peerTarget ? await conns(peerTarget, 'Socket.IO') : undefined;
    metrics.push(
      {
        name: 'open rate (/s)',
        courier: Math.round(cc.openRate),
        socketio: sc ? Math.round(sc.openRate) : null,
        better: 'higher',
      },
      {
        name: 'server RSS per connection (bytes)',
        courier: cc.workerRssPerConn,
        socketio: sc?.workerRssPerConn ?? null,
        better: 'lower',
        aim: '≤ 0.5',
      },
      {
        name: 'Redis per connection (bytes)',
        courier: cc.redisPerConn,
        socketio: sc?.redisPerConn ?? null,
        better: 'lower',
      },
      { name: 'connections failed', courier: cc.failed, socketio: sc?.failed ?? null, better: 'lower' },
    );
    lines.push(
      `courier open rate: ${fmt(Math.round(cc.openRate))}/s at an asked ${fmt(o.connsRate)}/s (target 3: ≥ 4,000/s)`,
    );
    const offered: Record<Mode, number> = { http: o.httpRate, batch: o.batchRate, ws: o.wsRate };
    for (const mode of modes) {
      const cCap = await push(courierTarget, 'courier', mode, offered[mode], 'capacity');
      const sCap = peerTarget
        ? await push(peerTarget, 'Socket.IO', mode, offered[mode], 'capacity')
        : undefined;
      const half = Math.max(1, Math.round(Math.min(cCap.throughput, sCap?.throughput ?? Infinity) / 2));
      const cLat = await push(courierTarget, 'courier', mode, half, 'latency');
      const sLat = peerTarget ? await push(peerTarget, 'Socket.IO', mode, half, 'latency') : undefined;
      metrics.push(
        {
          name: `${mode}: delivered/s at capacity`,
          courier: Math.round(cCap.throughput),
          socketio: sCap ? Math.round(sCap.throughput) : null,
          better: 'higher',
          aim: '≥ 2',
        },
        {
          name: `${mode}: p99 ms at ${fmt(half)} msg/s`,
          courier: cLat.latencyMs.p99,
          socketio: sLat?.latencyMs.p99 ?? null,
          better: 'lower',
          aim: '≤ 1',
        },
        {
          name: `${mode}: lost (all runs)`,
          courier: cCap.loss.lost + cLat.loss.lost,
          socketio: sCap && sLat ? sCap.loss.lost + sLat.loss.lost : null,
          better: 'lower',
          aim: '0',
        },
      );
      const goal = mode === 'batch' ? 20_000 : mode === 'http' ? 3_000 : undefined;
      if (goal) {
        lines.push(
          `courier ${mode}: ${fmt(Math.round(cCap.throughput))} msg/s delivered (target ${fmt(goal)}; measured here with ${fmt(o.receivers)} receivers, not 100,000)`,
        );
        lines.push(
          `courier ${mode}: p99 ${cLat.latencyMs.p99} ms at ${fmt(half)} msg/s (target ≤ 50 ms at ${fmt(goal / 2)} msg/s)`,
        );
      }
    }
  } finally {
    say('stopping what bench started');
    for (const s of started.reverse())
      await s.stop().catch((err: unknown) => say(`stop failed: ${(err as Error).message}`));
  }
  const report = comparisonReport(
    'bench',
    `courier bench${o.cluster ? ` (cluster, ${o.workers} workers)` : ' (all-in-one)'}`,
    o,
    metrics,
    runs,
  );
  report.tables.unshift({
    title: 'courier against the targets of issue 6',
    columns: ['measured'],
    rows: lines.map((l) => [l]),
  });
  const files = writeReport(report, o.out);
  process.stdout.write(`\n${headline(metrics)}\n\n${lines.join('\n')}\n\nreport: ${files.html}\n`);
}
