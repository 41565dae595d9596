// The live line's per-second rate waits for every generator's share of a second before showing it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerSecond } from '../../scripts/loadtest/common.js';

describe('loadtest PerSecond', () => {
  it('shows a second only once every generator has reported past it', () => {
    const sent = new PerSecond();
    // Generator 0 ticks early in each second, generator 1 late: each sends 750 a second.
    sent.add(0, 750);
    sent.reportedBefore(0, 1);
    sent.add(0, 750);
    sent.reportedBefore(1, 1);
    sent.add(1, 400); // generator 0's tick at 2.1 s carries only part of second 1 …
    sent.add(1, 350);
    sent.add(2, 70);
    sent.reportedBefore(0, 2);
    assert.equal(sent.last(), 1500, 'second 1 still lacks generator 1, so second 0 is shown');
    sent.add(1, 750); // … generator 1's tick at 2.9 s brings its share
    sent.reportedBefore(1, 2);
    assert.equal(sent.last(), 1500, 'second 1 now has both shares');
    assert.equal(sent.total(), 3070);
  });

  it('does not wait for a generator that stopped ticking', () => {
    const opened = new PerSecond();
    opened.add(0, 10);
    opened.reportedBefore(0, 1);
    opened.reportedBefore(1, 1);
    for (let s = 1; s <= 5; s++) {
      opened.add(s, 100 + s);
      opened.reportedBefore(0, s + 1);
    }
    assert.equal(opened.last(), 105, 'generator 1, four seconds behind, is left out');
  });

  it('falls back to the second before the newest when no generator says where it is', () => {
    const p = new PerSecond();
    assert.equal(p.last(), 0);
    p.add(0, 5);
    p.add(1, 7);
    assert.equal(p.last(), 5);
  });
});
