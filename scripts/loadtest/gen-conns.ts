// Generator side of `conns`: mint this process's tokens, open its share of connections at its share of the
// rate once the parent says go, keep them open (ws answers pings, message frames are ACKed) until told to
// close, and report every second.
import { Histogram } from './histogram.js';
import { GatewayCursor, HttpClient, TokenSource } from './http-client.js';
import type { ChildMessage, ConnsJob, ConnsTick } from './ipc.js';
import { Opener } from './opener.js';
import { connectionsOf } from './plan.js';
import { realClock, runOpenLoop } from './scheduler.js';
import { generatorPorts } from './source-ports.js';

export interface GeneratorIo {
  send(message: ChildMessage): void;
  /** Resolves with the start time of the parent's `go`. */
  go: Promise<number>;
  /** Resolves when the parent says `close`. */
  closed: Promise<void>;
}

/** Runs `work` over items with at most `limit` at a time (token minting, which may be HTTP). */
export async function pool<T>(
  items: T[],
  limit: number,
  work: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export async function runConnsJob(job: ConnsJob, io: GeneratorIo): Promise<void> {
  const { target } = job;
  const http = new HttpClient(target.url, { maxSockets: 32, timeoutMs: target.connectTimeoutMs });
  const tokens = new TokenSource(target, http);
  const gateway = new GatewayCursor(target, http, target.gatewayEvery);
  const mine = [...connectionsOf(job.plan, job.proc)];
  const uids = mine.map((c) => `${job.uidPrefix}c${c.index}`);
  const auth: string[] = new Array<string>(mine.length).fill('');
  // A token that could not be had (POST /v1/tokens refused or timed out) fails its one connection, reported
  // by reason, instead of failing the whole run.
  const tokenErrors = new Map<number, string>();
  await pool(mine, 64, async (_c, i) => {
    try {
      auth[i] = await tokens.token(uids[i] as string);
    } catch (err) {
      tokenErrors.set(i, `token: ${(err as Error).message.slice(0, 60)}`);
    }
  });
  io.send({ type: 'prepared', proc: job.proc });

  const startMs = await io.go;
  const intended = new Float64Array(mine.length);
  let tick: ConnsTick = emptyTick();
  const openLatency = new Histogram();
  let open = 0;
  let answered = 0;
  let settledSent = false;
  const maybeSettled = () => {
    if (!settledSent && answered === mine.length) {
      settledSent = true;
      io.send({ type: 'settled', proc: job.proc });
    }
  };
  const opener = new Opener(target, gateway, job.maxPending, generatorPorts(job.plan, job.proc), {
    open: (conn) => {
      open++;
      answered++;
      tick.opened++;
      const sec = Math.floor((realClock.now() - startMs) / 1000);
      tick.openedBySecond[sec] = (tick.openedBySecond[sec] ?? 0) + 1;
      openLatency.record((realClock.now() - (intended[conn.index] ?? 0)) * 1000);
      maybeSettled();
    },
    fail: (_k, reason) => {
      answered++;
      tick.failed[reason] = (tick.failed[reason] ?? 0) + 1;
      maybeSettled();
    },
    drop: (_k, reason) => {
      open--;
      tick.closed[reason] = (tick.closed[reason] ?? 0) + 1;
    },
    message: () => undefined, // ACKed by the connection itself; nothing else to count here
  });
  const flush = () => {
    tick.open = open;
    tick.openLatency = openLatency.toData();
    openLatency.reset();
    io.send({ type: 'tick', proc: job.proc, sec: Math.floor((realClock.now() - startMs) / 1000), tick });
    tick = emptyTick();
  };
  const ticker = setInterval(flush, 1000);
  let closing = false;
  void io.closed.then(() => {
    closing = true;
  });
  if (mine.length === 0) maybeSettled();
  await runOpenLoop(
    { ratePerSec: job.ratePerSec, startMs, total: mine.length, shouldStop: () => closing },
    (at, k) => {
      intended[k] = at;
      const tokenError = tokenErrors.get(k);
      if (tokenError !== undefined) {
        answered++;
        tick.failed[tokenError] = (tick.failed[tokenError] ?? 0) + 1;
        maybeSettled();
        return;
      }
      const c = mine[k] as { source: string };
      opener.enqueue({
        k,
        uid: uids[k] as string,
        token: auth[k] as string,
        source: c.source,
        intendedMs: at,
      });
      auth[k] = ''; // tokens are not needed after the connect; 15,000 of them are a few MB
    },
  );
  await io.closed;
  opener.closeAll();
  clearInterval(ticker);
  flush();
  http.close();
}

function emptyTick(): ConnsTick {
  return {
    kind: 'conns',
    opened: 0,
    failed: {},
    closed: {},
    open: 0,
    openedBySecond: {},
    openLatency: { pairs: [], min: 0, max: 0, sum: 0 },
  };
}
