// Load tools: server CPU from /proc/<pid>/stat, medians of repeated bench runs, and receivers that batch
// their ACKs per event-loop turn like the SDK.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { openConn } from '../../scripts/loadtest/clients.js';
import { median, total } from '../../scripts/loadtest/stats.js';
import {
  CpuRecorder,
  clockTicks,
  cpuSecondsBetween,
  cpuTicks,
  runQueueWaitNs,
} from '../../scripts/loadtest/cpu.js';

describe('loadtest server CPU', () => {
  it('reads utime + stime of a live process and null for a missing one', () => {
    assert.ok(Number.isInteger(clockTicks()) && clockTicks() > 0);
    const before = cpuTicks(process.pid);
    const until = Date.now() + 80;
    let spin = 0;
    while (Date.now() < until) spin++; // burn some CPU of our own
    const after = cpuTicks(process.pid);
    assert.ok(before !== null && after !== null && spin > 0);
    assert.ok(after >= before + 1, `ticks ${before} → ${after}`);
    assert.equal(cpuTicks(2 ** 30), null);
  });

  it('samples once a second from the start and converts ticks to seconds per pid', async () => {
    const recorder = new CpuRecorder([process.pid, 2 ** 30], Date.now(), Date.now);
    recorder.start();
    await recorder.reached(1);
    recorder.stop();
    const [a, b] = [recorder.sample(0), recorder.sample(1)];
    assert.ok(a && b && b.atMs - a.atMs >= 900, JSON.stringify(recorder.samples));
    const between = cpuSecondsBetween(a, b, recorder.pids);
    assert.deepEqual(between.missing, [2 ** 30]);
    assert.ok(between.seconds >= 0 && between.perPid[0] === between.seconds);
    assert.equal(recorder.coresPerSecond().length, recorder.samples.length - 1);
  });

  it('reads how long each process waited for a core, per second', async () => {
    assert.equal(runQueueWaitNs(2 ** 30), null);
    // One busy process more than there are cores: together they must wait about a core's worth each second.
    const spinners = Array.from({ length: availableParallelism() + 1 }, () =>
      spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
    );
    try {
      const pids = spinners.map((c) => c.pid as number);
      const recorder = new CpuRecorder([...pids, 2 ** 30], Date.now() + 300, Date.now);
      recorder.start();
      await recorder.reached(2);
      recorder.stop();
      const waits = recorder.waitPerSecond();
      assert.deepEqual(waits.at(-1), { pid: 2 ** 30, points: [] }, 'a missing pid has no points');
      const second1 = waits.slice(0, -1).map((w) => w.points.find(([k]) => k === 1)?.[1] ?? 0);
      const total = second1.reduce((a, b) => a + b, 0);
      assert.ok(
        total > 300 && total < 1_600, // the time they ran would be about one second per core
        `waited ${second1.join(', ')} ms in second 1`,
      );
    } finally {
      for (const c of spinners) c.kill('SIGKILL');
    }
  });
});

describe('loadtest medians of repeated runs', () => {
  it('takes the median of the known values and the total of counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, null, 1]), 2.5);
    assert.equal(median([null, null]), null);
    assert.equal(total([1, null, 2]), 3);
    assert.equal(total([null]), null);
  });
});

describe('loadtest courier receiver', () => {
  it('ACKs the messages of one event-loop turn in one frame', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const acks: string[][] = [];
    let server: WebSocket | undefined;
    const gotAcks = new Promise<void>((resolve) => {
      wss.on('connection', (ws) => {
        server = ws;
        ws.on('message', (data) => {
          const frame = JSON.parse(String(data)) as { type: string; ids: string[] };
          if (frame.type === 'ack') acks.push(frame.ids);
          if (acks.flat().length === 5) resolve();
        });
        ws.send('{"type":"welcome"}');
      });
    });
    const received: (number | undefined)[] = [];
    const opened = new Promise<void>((resolve, reject) => {
      openConn(
        'courier',
        0,
        `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
        { token: 't', uid: 'u' },
        { address: '', port: 0 },
        5000,
        {
          open: () => resolve(),
          fail: (_i, reason) => reject(new Error(reason)),
          drop: () => undefined,
          message: (_i, key) => received.push(key),
        },
      );
    });
    await opened;
    // Five frames in one write: the receiver reads them in one turn.
    const frames = [1, 2, 3, 4, 5].map((k) =>
      JSON.stringify({ type: 'message', message: { id: `m${k}`, content: { k, t: Date.now() } } }),
    );
    const socket = (server as unknown as { _socket: { write(b: Buffer): void } })._socket;
    socket.write(Buffer.concat(frames.map(serverFrame)));
    await gotAcks;
    assert.deepEqual(received, [1, 2, 3, 4, 5]);
    assert.deepEqual(acks, [['m1', 'm2', 'm3', 'm4', 'm5']]);
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });
});

/** One unmasked server-to-client text frame (payload < 126 bytes). */
function serverFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}
