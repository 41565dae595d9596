// Generator side of `push`: connect this process's receiver devices (and, in ws mode, its sender
// connections), then send its share of messages open-loop once the parent says go. Each message carries
// its key and intended send time in its content, so any receiver can measure end-to-end latency from the
// intended time. Accepted keys and received keys are kept exactly, for the parent's loss check.
import type { LoadConn } from './clients.js';
import { pool, type GeneratorIo } from './gen-conns.js';
import { Histogram } from './histogram.js';
import { GatewayCursor, HttpClient, TokenSource, WorkerRotation } from './http-client.js';
import { bump, messageKey, type PushJob, type PushTick } from './ipc.js';
import { Opener, type OpenTask } from './opener.js';
import { connectionsOf } from './plan.js';
import { realClock, runOpenLoop } from './scheduler.js';
import { generatorPorts } from './source-ports.js';
import { Sender, type Outgoing } from './sender.js';

export async function runPushJob(job: PushJob, io: GeneratorIo & { collect: Promise<void> }): Promise<void> {
  const { target, proc, procs } = job;
  const http = new HttpClient(target.url, { maxSockets: job.maxSockets, timeoutMs: 30_000 });
  const tokens = new TokenSource(target, http);
  const picker =
    job.workers.length > 0
      ? new WorkerRotation(job.workers, proc)
      : new GatewayCursor(target, http, target.gatewayEvery);

  // Receiver devices are local indexes 0..R-1; ws senders follow them.
  const devices = [...connectionsOf(job.plan, proc)];
  const senderUids: string[] = [];
  for (let s = proc; s < job.senders; s += procs) senderUids.push(`${job.uidPrefix}s${s}`);
  const tasks: Omit<OpenTask, 'intendedMs'>[] = devices.map((d, k) => ({
    k,
    uid: `${job.uidPrefix}r${Math.floor(d.index / job.devices)}`,
    token: '',
    source: d.source,
  }));
  if (job.mode === 'ws') {
    senderUids.forEach((uid, i) =>
      tasks.push({ k: devices.length + i, uid, token: '', source: devices[0]?.source ?? '' }),
    );
  }
  await pool(tasks, 64, async (t) => {
    t.token = await tokens.token(t.uid);
  });
  const senderTokens =
    job.mode !== 'ws' && !target.apiKey ? await Promise.all(senderUids.map((u) => tokens.token(u))) : [];

  let startMs = Number.POSITIVE_INFINITY;
  let tick = emptyTick();
  const latency = new Map<number, Histogram>();
  const received = devices.map(() => new Set<number>());
  const state = devices.map(() => ({ opened: false, dropped: false }));
  const opened: (LoadConn | undefined)[] = [];
  let answered = 0;
  let connectFailures = 0;
  let allAnswered = () => undefined as void;
  const connected = new Promise<void>((resolve) => (allAnswered = resolve));
  const answer = () => {
    if (++answered === tasks.length) allAnswered();
  };
  const second = () => Math.floor((realClock.now() - startMs) / 1000);
  const sender = new Sender(job, http, senderTokens, opened, devices.length, () => tick, second);
  const opener = new Opener(target, picker, 200, generatorPorts(job.plan, proc), {
    open: (conn) => {
      opened[conn.index] = conn;
      const s = state[conn.index];
      if (s) s.opened = true;
      answer();
    },
    fail: (_k, reason) => {
      connectFailures++;
      tick.dropped[`connect: ${reason}`] = (tick.dropped[`connect: ${reason}`] ?? 0) + 1;
      answer();
    },
    drop: (k, reason) => {
      opened[k] = undefined;
      const s = state[k];
      if (s) s.dropped = true;
      tick.dropped[reason] = (tick.dropped[reason] ?? 0) + 1;
    },
    message: (k, key, t) => {
      const seen = received[k];
      if (key === undefined || t === undefined || !seen) {
        tick.unexpected++;
        return;
      }
      if (seen.has(key)) {
        tick.duplicates++;
        return;
      }
      seen.add(key);
      tick.delivered++;
      const now = realClock.now();
      const sec = Math.floor((now - startMs) / 1000);
      bump(tick, sec, 2, 1);
      let h = latency.get(sec);
      if (!h) latency.set(sec, (h = new Histogram()));
      h.record((now - t) * 1000);
    },
    sent: (_k, clientMsgId, error) => sender.answered(clientMsgId, error),
  });
  const connectStart = realClock.now();
  await runOpenLoop(
    { ratePerSec: job.connectRatePerSec, startMs: connectStart, total: tasks.length },
    (at, i) => {
      opener.enqueue({ ...(tasks[i] as OpenTask), intendedMs: at });
    },
  );
  if (tasks.length > 0) await connected;
  const note = connectFailures > 0 ? `${connectFailures} of ${tasks.length} connections failed` : undefined;
  io.send({ type: 'prepared', proc, ...(note ? { note } : {}) });

  startMs = await io.go;
  const flush = () => {
    tick.inflight = sender.inflight;
    for (const [sec, h] of latency) tick.latency[sec] = h.toData();
    latency.clear();
    io.send({ type: 'tick', proc, sec: Math.floor((realClock.now() - startMs) / 1000), tick });
    tick = emptyTick();
  };
  const ticker = setInterval(flush, 1000);
  const perEvent = job.mode === 'batch' ? job.batchSize : 1;
  const events = Math.ceil(job.total / perEvent);
  const schedule = await runOpenLoop(
    { ratePerSec: job.ratePerSec / perEvent, startMs, total: events },
    (at, e) => {
      const batch: Outgoing[] = [];
      for (let i = e * perEvent; i < Math.min(job.total, (e + 1) * perEvent); i++) {
        const r = (i * procs + proc) % job.receivers;
        batch.push({ key: messageKey(proc, i), to: `${job.uidPrefix}r${r}`, receiver: r, t: at });
      }
      sender.send(e, batch);
    },
  );
  await sender.idle();
  io.send({ type: 'settled', proc });

  await io.collect;
  flush();
  const acc = sender.acceptedArrays();
  io.send({
    type: 'push-final',
    proc,
    acceptedKeys: acc.keys,
    acceptedTo: acc.to,
    devices: devices.map((d, k) => ({
      conn: d.index,
      keys: Float64Array.from(received[k] ?? []),
      opened: state[k]?.opened ?? false,
      dropped: state[k]?.dropped ?? false,
    })),
    maxLagMs: schedule.maxLagMs,
    peakWaitingForSocket: http.peakWaiting,
  });
  await io.closed;
  clearInterval(ticker);
  opener.closeAll();
  http.close();
}

export function emptyTick(): PushTick {
  return {
    kind: 'push',
    sent: 0,
    accepted: 0,
    failed: {},
    delivered: 0,
    duplicates: 0,
    unexpected: 0,
    dropped: {},
    inflight: 0,
    bySecond: {},
    latency: {},
  };
}
