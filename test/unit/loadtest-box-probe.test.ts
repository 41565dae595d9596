import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeProbe, probeBox } from '../../scripts/loadtest/box-probe.js';
import { CpuRecorder, clockTicks, machineSharesBetween, machineTicks } from '../../scripts/loadtest/cpu.js';

test('machine shares: cores busy, softirq and steal from two /proc/stat readings', () => {
  const hz = clockTicks();
  // user nice system idle iowait irq softirq steal, over 2 s of a 2-core machine (4 s of core time)
  const a = [0, 0, 0, 0, 0, 0, 0, 0];
  const b = [1.5, 0, 0.5, 1.2, 0.2, 0, 0.4, 0.2].map((s) => s * hz);
  const shares = machineSharesBetween(a, b, 2);
  assert.deepEqual(shares, { coresBusy: 1.2, softirqPercent: 10, stealPercent: 5, iowaitPercent: 5 });
  assert.equal(machineSharesBetween(a, a, 2), null, 'no ticks passed: nothing to say');
  assert.equal(machineSharesBetween(a, b, 0), null);
  assert.equal(machineSharesBetween(a.slice(1), b, 2), null);
});

test('per second: cores busy and iowait of the whole machine, seconds without a reading left out', () => {
  const hz = clockTicks();
  const recorder = new CpuRecorder([], 0, () => 0);
  const at = (sec: number, machine: number[] | null) =>
    recorder.samples.push({
      sec,
      atMs: sec * 1000,
      ticks: [],
      waitNs: [],
      machine: machine?.map((s) => s * hz) ?? null,
    });
  at(0, [0, 0, 0, 0, 0, 0, 0, 0]);
  at(1, [1, 0, 0, 0.5, 0.5, 0, 0, 0]); // a busy core and one waiting on the disk half the time
  at(2, null);
  at(3, [2, 0, 0, 1.5, 0.5, 0, 0, 0]);
  at(4, [3, 0, 0.5, 2, 0.5, 0, 0, 0]);
  assert.deepEqual(recorder.machinePerSecond(), {
    busy: [
      [0, 1],
      [3, 1.5],
    ],
    iowait: [
      [0, 25],
      [3, 0],
    ],
  });
});

test('machineTicks reads the machine-wide cpu line of /proc/stat, and time moves it forward', async () => {
  const first = machineTicks();
  assert.ok(first, 'Linux has /proc/stat');
  assert.equal(first.length, 8);
  const until = Date.now() + 300;
  while (Date.now() < until); // keep a core busy for 0.3 s
  const second = machineTicks() as number[];
  const shares = machineSharesBetween(first, second, 0.3);
  assert.ok(shares && shares.coresBusy > 0.3, `busy ${JSON.stringify(shares)}`);
});

test('the probe times its fixed work: positive, finite, and described for the progress line', async () => {
  const probe = await probeBox();
  for (const value of [probe.jsNsPerOp, probe.loopbackRoundTripUs]) {
    assert.ok(Number.isFinite(value) && value > 0, JSON.stringify(probe));
  }
  // A JSON round trip of a small object takes well over 100 ns and a loopback round trip over 1 µs anywhere.
  assert.ok(probe.jsNsPerOp > 100 && probe.loopbackRoundTripUs > 1, JSON.stringify(probe));
  assert.match(describeProbe(probe), /^JSON [\d.]+ ns\/op, loopback round trip [\d.]+ µs$/);
});
