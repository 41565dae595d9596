import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram } from '../../scripts/loadtest/histogram.js';

/** Exact percentile of sorted values, with the same rank rule as the histogram (ceil(q·n), 1-based). */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

/** A seeded generator, so a failure can be reproduced. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const QUANTILES = [0.5, 0.9, 0.99, 0.999];

function assertWithin(h: Histogram, values: number[], tolerance = 0.01): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES) {
    const want = exact(sorted, q);
    const got = h.percentile(q);
    assert.ok(Math.abs(got - want) <= want * tolerance, `p${q * 100}: got ${got}, want ${want} ±1%`);
  }
  assert.equal(h.max, sorted[sorted.length - 1]);
  assert.equal(h.min, sorted[0]);
}

describe('loadtest histogram', () => {
  it('is exact below 256', () => {
    const h = new Histogram();
    for (let v = 0; v < 256; v++) h.record(v);
    assert.equal(h.percentile(0.5), 127);
    assert.equal(h.percentile(0.99), 253);
    assert.equal(h.count, 256);
  });

  it('keeps percentiles within 1% on a uniform distribution (µs of 1 ms … 10 s)', () => {
    const rand = lcg(1);
    const values = Array.from({ length: 200_000 }, () => Math.round(1_000 + rand() * 9_999_000));
    const h = new Histogram();
    for (const v of values) h.record(v);
    assertWithin(h, values);
  });

  it('keeps percentiles within 1% on a long-tailed (exponential) distribution', () => {
    const rand = lcg(2);
    const values = Array.from({ length: 200_000 }, () => Math.round(-Math.log(1 - rand()) * 5_000) + 300);
    const h = new Histogram();
    for (const v of values) h.record(v);
    assertWithin(h, values);
  });

  it('handles values up to hours and powers of two exactly at bucket edges', () => {
    const values = [2 ** 20 - 1, 2 ** 20, 3_600_000_000, 2 ** 33 - 1, 2 ** 33]; // sorted
    const h = new Histogram();
    for (const v of values) h.record(v);
    values.forEach((v, i) => {
      const got = h.percentile((i + 1) / values.length);
      assert.ok(Math.abs(got - v) <= v * 0.01, `value ${v}: got ${got}`);
    });
    assert.equal(h.percentile(1), 2 ** 33);
  });

  it('merges: two halves merged give the same answers as one histogram of everything', () => {
    const rand = lcg(3);
    const values = Array.from({ length: 50_000 }, () => Math.round(rand() ** 3 * 2_000_000));
    const whole = new Histogram();
    const a = new Histogram();
    const b = new Histogram();
    values.forEach((v, i) => {
      whole.record(v);
      (i % 2 ? a : b).record(v);
    });
    const merged = new Histogram();
    merged.merge(a);
    merged.merge(b.toData()); // the IPC form
    assert.deepEqual(merged.summary(), whole.summary());
    assert.deepEqual(Histogram.from(whole.toData()).summary(), whole.summary());
  });

  it('answers 0 when empty and ignores negative values (clock steps)', () => {
    const h = new Histogram();
    assert.equal(h.percentile(0.99), 0);
    assert.deepEqual(h.summary().count, 0);
    h.record(-5);
    assert.equal(h.percentile(0.5), 0);
  });
});
