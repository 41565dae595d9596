import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerWheel, type TimerHandle } from '../../internal/worker/timer-wheel.js';

/** A wheel on a fake clock: `advance(ms)` moves time and runs the due ticks, no real waiting. */
function fakeWheel(
  options: { tickMs?: number; slots?: number; start?: number; onError?: (e: unknown) => void } = {},
) {
  let now = options.start ?? 1_000_000;
  const fired: { payload: string; at: number }[] = [];
  let onFire: (payload: string, handle: TimerHandle<string>) => void = () => undefined;
  const wheel = new TimerWheel<string>(
    {
      tickMs: options.tickMs ?? 10,
      slots: options.slots ?? 8,
      now: () => now,
      autoStart: false,
      onError: options.onError,
    },
    (payload, handle, at) => {
      fired.push({ payload, at });
      onFire(payload, handle);
    },
  );
  return {
    wheel,
    fired,
    names: () => fired.map((f) => f.payload),
    now: () => now,
    advance(ms: number) {
      now += ms;
      wheel.advance();
    },
    /** Moves the clock in tick-sized steps, as the interval would. */
    step(ms: number, tick = options.tickMs ?? 10) {
      for (let t = 0; t < ms; t += tick) {
        now += Math.min(tick, ms - t);
        wheel.advance();
      }
    },
    setOnFire(fn: typeof onFire) {
      onFire = fn;
    },
  };
}

test('fires at the first tick at or after the deadline, never early', () => {
  const w = fakeWheel();
  const t0 = w.now();
  w.wheel.schedule(t0 + 25, 'a');
  w.wheel.schedule(t0 + 10, 'b');
  w.wheel.schedule(t0 + 1, 'c');
  assert.equal(w.wheel.size, 3);
  w.step(9);
  assert.deepEqual(w.names(), []);
  w.step(1);
  assert.deepEqual(w.names(), ['b', 'c']);
  w.step(10);
  assert.deepEqual(w.names(), ['b', 'c']);
  w.step(10);
  assert.deepEqual(w.names(), ['b', 'c', 'a']);
  for (const f of w.fired) assert.ok(f.at >= t0 + (f.payload === 'a' ? 25 : f.payload === 'b' ? 10 : 1));
  assert.equal(w.wheel.size, 0);
});

test('a deadline in the past fires on the next tick', () => {
  const w = fakeWheel();
  w.wheel.schedule(w.now() - 5000, 'late');
  w.advance(0);
  assert.deepEqual(w.names(), []);
  w.advance(10);
  assert.deepEqual(w.names(), ['late']);
});

test('deadlines several revolutions away wait their turn', () => {
  // 8 slots × 10 ms = 80 ms per revolution.
  const w = fakeWheel();
  const t0 = w.now();
  w.wheel.schedule(t0 + 250, 'far');
  w.wheel.schedule(t0 + 30, 'near');
  w.step(240);
  assert.deepEqual(w.names(), ['near']);
  w.step(10);
  assert.deepEqual(w.names(), ['near', 'far']);
  assert.ok(w.fired[1]!.at >= t0 + 250);
});

test('cancel is O(1) and idempotent', () => {
  const w = fakeWheel();
  const t0 = w.now();
  const a = w.wheel.schedule(t0 + 20, 'a');
  const b = w.wheel.schedule(t0 + 20, 'b');
  const c = w.wheel.schedule(t0 + 20, 'c');
  assert.equal(w.wheel.cancel(b), true);
  assert.equal(w.wheel.cancel(b), false);
  assert.equal(w.wheel.size, 2);
  w.step(30);
  assert.deepEqual(w.names(), ['a', 'c']);
  assert.equal(w.wheel.cancel(a), false);
  assert.equal(a.scheduled, false);
  assert.equal(c.scheduled, false);
});

test('reschedule moves an entry without duplicating it', () => {
  const w = fakeWheel();
  const t0 = w.now();
  const h = w.wheel.schedule(t0 + 20, 'x');
  w.wheel.reschedule(h, t0 + 200);
  w.wheel.reschedule(h, t0 + 50);
  assert.equal(w.wheel.size, 1);
  w.step(40);
  assert.deepEqual(w.names(), []);
  w.step(10);
  assert.deepEqual(w.names(), ['x']);
  // A fired handle can be scheduled again.
  w.wheel.reschedule(h, w.now() + 10);
  w.step(10);
  assert.deepEqual(w.names(), ['x', 'x']);
});

test('callbacks may cancel, reschedule and schedule entries due in the same tick', () => {
  const w = fakeWheel();
  const t0 = w.now();
  const handles = new Map<string, TimerHandle<string>>();
  for (const name of ['a', 'b', 'c', 'd']) handles.set(name, w.wheel.schedule(t0 + 10, name));
  w.setOnFire((payload) => {
    if (payload === 'a') {
      w.wheel.cancel(handles.get('b')!); // due in this very tick
      w.wheel.reschedule(handles.get('c')!, t0 + 30); // moved out of this tick
      w.wheel.schedule(t0, 'new'); // in the past: next tick
    }
  });
  w.step(10);
  assert.deepEqual(w.names(), ['a', 'd']);
  w.step(10);
  assert.deepEqual(w.names(), ['a', 'd', 'new']);
  w.step(10);
  assert.deepEqual(w.names(), ['a', 'd', 'new', 'c']);
  assert.equal(w.wheel.size, 0);
});

test('a callback that re-arms its own handle (lazy reschedule)', () => {
  const w = fakeWheel();
  let count = 0;
  const h = w.wheel.schedule(w.now() + 10, 'beat');
  w.setOnFire((_p, handle) => {
    if (++count < 3) w.wheel.reschedule(handle, w.now() + 10);
  });
  w.step(100);
  assert.equal(count, 3);
  assert.equal(h.scheduled, false);
});

test('a throwing callback is reported and does not stop the others', () => {
  const errors: unknown[] = [];
  const w = fakeWheel({ onError: (e) => errors.push(e) });
  w.wheel.schedule(w.now() + 10, 'boom');
  w.wheel.schedule(w.now() + 10, 'fine');
  w.setOnFire((p) => {
    if (p === 'boom') throw new Error('boom');
  });
  w.step(10);
  assert.deepEqual(w.names(), ['boom', 'fine']);
  assert.equal(errors.length, 1);
});

test('a stall longer than a revolution fires everything due in one sweep', () => {
  const w = fakeWheel();
  const t0 = w.now();
  for (let i = 1; i <= 20; i++) w.wheel.schedule(t0 + i * 13, `e${i}`);
  w.wheel.schedule(t0 + 10_000, 'later');
  w.advance(1000);
  assert.equal(w.fired.length, 20);
  assert.equal(w.wheel.size, 1);
  w.advance(9000);
  assert.equal(w.fired.at(-1)!.payload, 'later');
});

test('many entries in few slots keep correct order and size', () => {
  const w = fakeWheel({ slots: 4 });
  const t0 = w.now();
  const handles = [];
  for (let i = 0; i < 1000; i++) handles.push(w.wheel.schedule(t0 + ((i * 7) % 500), `e${i}`));
  for (let i = 0; i < 1000; i += 2) w.wheel.cancel(handles[i]!);
  assert.equal(w.wheel.size, 500);
  w.step(500);
  assert.equal(w.fired.length, 500);
  let last = 0;
  for (const f of w.fired) {
    assert.ok(f.at >= last);
    last = f.at;
  }
  assert.equal(w.wheel.size, 0);
});

test('stop() forgets every entry', () => {
  const w = fakeWheel();
  const h = w.wheel.schedule(w.now() + 10, 'a');
  w.wheel.schedule(w.now() + 500, 'b');
  w.wheel.stop();
  assert.equal(w.wheel.size, 0);
  assert.equal(h.scheduled, false);
  w.step(1000);
  assert.deepEqual(w.names(), []);
});

test('the interval drives the wheel on the real clock (unref: never keeps the process alive)', async () => {
  let fire: () => void = () => undefined;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  const wheel = new TimerWheel<string>({ tickMs: 5 }, () => fire());
  wheel.schedule(Date.now() + 10, 'x');
  // The test's own timeout guards against a wheel that never fires; the unref'd interval would not.
  const guard = setTimeout(() => undefined, 5000);
  await fired;
  clearTimeout(guard);
  wheel.stop();
});

test('a NaN deadline is refused', () => {
  const w = fakeWheel();
  assert.throws(() => w.wheel.schedule(Number.NaN, 'x'), /NaN/);
  assert.equal(w.wheel.size, 0);
});

test('options are checked', () => {
  assert.throws(() => new TimerWheel({ tickMs: 0 }, () => undefined), /tickMs/);
  assert.throws(() => new TimerWheel({ tickMs: 10, slots: 0, autoStart: false }, () => undefined), /slots/);
});
