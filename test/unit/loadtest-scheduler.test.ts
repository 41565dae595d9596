import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intendedTime, runOpenLoop, type Clock } from '../../scripts/loadtest/scheduler.js';

/** A clock that only moves when told: sleep() advances it, and a "slow sender" can advance it too. */
function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += Math.max(ms, 0.001); // a zero sleep still lets time pass, as a real timer would
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

describe('loadtest open-loop scheduler', () => {
  it('stamps event i with start + i / rate', async () => {
    const clock = fakeClock();
    const stamps: number[] = [];
    const result = await runOpenLoop({ ratePerSec: 1000, startMs: 1_000_000, total: 500, clock }, (at) =>
      stamps.push(at),
    );
    assert.equal(result.fired, 500);
    stamps.forEach((at, i) => assert.equal(at, 1_000_000 + i));
  });

  it('keeps intended times when the sender is slow, and fires overdue events at once', async () => {
    const clock = fakeClock();
    const events: { at: number; firedAt: number }[] = [];
    const rate = 100; // one event per 10 ms
    await runOpenLoop({ ratePerSec: rate, startMs: 1_000_000, total: 100, clock }, (at, i) => {
      events.push({ at, firedAt: clock.now() });
      // Two sends block the generator for 250 ms (a stalled server seen through a blocking client).
      if (i === 0 || i === 50) clock.advance(250);
    });
    assert.equal(events.length, 100);
    events.forEach((e, i) => assert.equal(e.at, intendedTime(1_000_000, rate, i), `event ${i} slipped`));
    // After the first stall (events 1…25 were due during it), they all fire in one burst at the same instant.
    const burst = events.slice(1, 26).map((e) => e.firedAt);
    assert.ok(
      burst.every((t) => t === burst[0]),
      'overdue events fire together, none is dropped or delayed further',
    );
    // Nothing fires before its intended time.
    for (const e of events) assert.ok(e.firedAt >= e.at);
  });

  it('sleeps until the next event is due instead of waking in short ticks', async () => {
    const clock = fakeClock();
    let sleeps = 0;
    const counting: Clock = { now: clock.now, sleep: (ms) => (sleeps++, clock.sleep(ms)) };
    // 20 events at 20/s span a second: a generator that polls every few ms would sleep hundreds of times.
    const result = await runOpenLoop(
      { ratePerSec: 20, startMs: 1_000_000, total: 20, clock: counting },
      () => undefined,
    );
    assert.equal(result.fired, 20);
    assert.ok(sleeps <= 25, `slept ${sleeps} times for 20 events`);
  });

  it('reports how far the generator itself fell behind', async () => {
    const clock = fakeClock();
    const result = await runOpenLoop({ ratePerSec: 10, startMs: 1_000_000, total: 5, clock }, (_at, i) => {
      if (i === 1) clock.advance(700);
    });
    assert.ok(result.maxLagMs >= 500 && result.maxLagMs <= 700, `maxLag ${result.maxLagMs}`);
  });

  it('stops early when asked and refuses a non-positive rate', async () => {
    const clock = fakeClock();
    let fired = 0;
    const result = await runOpenLoop(
      { ratePerSec: 100, startMs: 1_000_000, total: 1000, clock, shouldStop: () => fired >= 10 },
      () => fired++,
    );
    assert.ok(result.fired >= 10 && result.fired < 1000);
    await assert.rejects(
      runOpenLoop({ ratePerSec: 0, startMs: 0, total: 1, clock }, () => undefined),
      RangeError,
    );
  });
});
