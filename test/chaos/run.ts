// One chaos run: a LocalCluster (2 business, 2 dispatchers, 3 workers on Redis, etcd and MariaDB), steady
// traffic through it, the faults of issue 5 one after another while the traffic runs, then the check of
// verify.ts. Shared by the test (a short run) and `npm run chaos` (as long as asked).
import { setTimeout as pause } from 'node:timers/promises';
import { LocalCluster, type ClusterOptions } from '../support/cluster.js';
import { ALL_FAULTS, runFault, whole, type FaultName } from './faults.js';
import { Traffic, type TrafficOptions } from './traffic.js';
import { verify, type Report } from './verify.js';

export const CHAOS_LEASE_TTL_SECONDS = 3; // a frozen or killed node leaves etcd within seconds

/**
 * COURIER_* settings of the chaos cluster. Every fault sends many devices reconnecting at once from one
 * address (127.0.0.1), which the automatic bans of DESIGN §1.6 would rightly take for abuse at the default
 * of 20 attempts per uid and 1000 per IP a minute: the limits are raised so the test measures delivery,
 * not the blacklist (test/e2e/defences*.test.ts cover that).
 */
export const CHAOS_ENV: Record<string, string> = {
  COURIER_WORKER_TICK_MS: '20',
  COURIER_SHUTDOWN_GRACE_SECONDS: '2',
  COURIER_BUSINESS_OPEN_MESSAGING: 'true', // any user may write to any other: this is about delivery
  COURIER_BLACKLIST_MAX_CONNECTS: '1000',
  COURIER_BLACKLIST_MAX_CONNECTS_PER_IP: '100000',
};

export interface ChaosOptions {
  durationMs?: number; // keep injecting faults (in ALL_FAULTS order, round after round) this long (default: one round)
  faults?: FaultName[]; // default ALL_FAULTS
  gapMs?: number; // traffic-only time before each fault and after the last (default 3_000)
  traffic?: TrafficOptions;
  settleMs?: number; // how long devices get to catch up at the end (default 30_000)
  cluster?: ClusterOptions; // overrides of the cluster's options
  log?: (line: string) => void;
}

export interface ChaosResult {
  report: Report;
  faults: string[]; // one line per fault injected, with its recovery time
  crashes: string[]; // nodes that exited without being told to (must be none)
  elapsedMs: number; // from the first send to the end of the check
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosResult> {
  const { gapMs = 3_000, faults = ALL_FAULTS, log = () => undefined } = options;
  const crashes: string[] = [];
  const cluster = await LocalCluster.start({
    leaseTtlSeconds: CHAOS_LEASE_TTL_SECONDS,
    env: CHAOS_ENV,
    onExit: (node, code) => {
      crashes.push(`${node.id} exited with ${code}:\n${node.proc.output().slice(-2_000)}`);
    },
    ...options.cluster,
  });
  let traffic: Traffic | undefined;
  try {
    traffic = await Traffic.connect(cluster, options.traffic);
    const started = Date.now();
    traffic.start();
    log(
      `traffic started: ${traffic.receivers.length} receiver devices, ${traffic.wsSenders.length} SDK senders`,
    );
    const lines: string[] = [];
    const until = started + (options.durationMs ?? 0);
    let round = 0;
    do {
      for (const fault of faults) {
        await pause(gapMs);
        const probe = () => (traffic as Traffic).probe(`${fault}-${round}`);
        // Odd rounds freeze a worker past the dispatchers' sweep as well (see FaultOptions).
        const frozenPastLeaseMs = round % 2 === 0 ? 1_000 : 5_000;
        const what = await runFault(cluster, fault, {
          leaseTtlSeconds: CHAOS_LEASE_TTL_SECONDS,
          frozenPastLeaseMs,
          probe,
        });
        const line = `${((Date.now() - started) / 1000).toFixed(1)} s  ${what}`;
        lines.push(line);
        log(line);
      }
      round++;
    } while (Date.now() < until);
    await pause(gapMs);
    await whole(cluster);
    await traffic.stop();
    log(`traffic stopped after ${round} round(s) of faults; checking store and devices…`);
    const report = await verify(cluster, traffic, options.settleMs);
    return { report, faults: lines, crashes, elapsedMs: Date.now() - started };
  } finally {
    traffic?.close();
    await cluster.stop();
  }
}
