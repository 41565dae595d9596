import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { LocalCounter, LocalHistogram } from '../../internal/metrics/local-metrics.js';

// The local families must be indistinguishable from prom-client's on a scrape: each case writes the same
// values to a prom-client family on one registry and to a local one on another, and compares the text.

const BUCKETS = [0.001, 0.01, 0.1, 1];

async function scrape(make: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  make(registry);
  return registry.metrics();
}

test('a labelled histogram scrapes as prom-client writes it: cumulative buckets, +Inf, sum, count', async () => {
  const values = [0, 0.0005, 0.001, 0.005, 0.05, 0.5, 2, 30, 0.01];
  const options = { name: 'h_seconds', help: 'h', labelNames: ['op'] as const, buckets: BUCKETS };
  const expected = await scrape((registers) => {
    const h = new Histogram({ ...options, registers: [registers] });
    for (const v of values) h.labels('append').observe(v);
    h.labels('lookup').observe(0.02);
  });
  const actual = await scrape((registers) => {
    const h = new LocalHistogram({ ...options, registers: [registers] });
    const append = h.labels('append');
    for (const v of values) append.observe(v);
    h.labels('lookup').observe(0.02);
    h.labels('never'); // bound, never written: not exposed
  });
  assert.equal(actual, expected);
  assert.match(actual, /h_seconds_bucket\{le="0.01",op="append"\} 5/);
  assert.match(actual, /h_seconds_count\{op="append"\} 9/);
});

test('families without labels are exposed at zero before any write, and count once written', async () => {
  const expectedEmpty = await scrape((registers) => {
    new Histogram({ name: 'u_seconds', help: 'u', buckets: BUCKETS, registers: [registers] });
    new Counter({ name: 'u_total', help: 'u', registers: [registers] });
  });
  const actualEmpty = await scrape((registers) => {
    new LocalHistogram({ name: 'u_seconds', help: 'u', buckets: BUCKETS, registers: [registers] });
    new LocalCounter({ name: 'u_total', help: 'u', registers: [registers] });
  });
  assert.equal(actualEmpty, expectedEmpty);

  const expected = await scrape((registers) => {
    new Histogram({ name: 'u_seconds', help: 'u', buckets: BUCKETS, registers: [registers] }).observe(0.2);
    new Counter({ name: 'u_total', help: 'u', registers: [registers] }).inc(3);
  });
  const actual = await scrape((registers) => {
    new LocalHistogram({ name: 'u_seconds', help: 'u', buckets: BUCKETS, registers: [registers] })
      .labels()
      .observe(0.2);
    new LocalCounter({ name: 'u_total', help: 'u', registers: [registers] }).labels().inc(3);
  });
  assert.equal(actual, expected);
});

test('a labelled counter adds increments per child; reset zeroes it; bad input is refused', async () => {
  const registry = new Registry();
  const c = new LocalCounter({
    name: 'c_total',
    help: 'c',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  const sent = c.labels('http', 'sent');
  sent.inc();
  sent.inc(4);
  assert.equal(c.labels('http', 'sent'), sent, 'the same values give the same child');
  c.labels('ws', 'refused').inc(0);
  assert.match(await registry.metrics(), /c_total\{kind="http",outcome="sent"\} 5\n/);
  assert.match(await registry.metrics(), /c_total\{kind="ws",outcome="refused"\} 0\n/);

  assert.throws(() => sent.inc(-1), /non-negative/);
  assert.throws(() => sent.inc(Number.NaN), /non-negative/);
  assert.throws(() => c.labels('http'), /2 label values expected, got 1/);
  const h = new LocalHistogram({ name: 'x_seconds', help: 'x', buckets: BUCKETS, registers: [registry] });
  assert.throws(() => h.labels().observe(Number.POSITIVE_INFINITY), /finite/);
  assert.throws(
    () => new LocalHistogram({ name: 'y', help: 'y', buckets: [1, 0.5], registers: [registry] }),
    /increasing/,
  );
  assert.throws(
    () => new LocalCounter({ name: 'c_total', help: 'again', registers: [registry] }),
    /already been registered/,
  );

  h.labels().observe(0.5);
  registry.resetMetrics(); // as prom-client: labelled series go, unlabelled ones stay at zero
  assert.doesNotMatch(await registry.metrics(), /c_total\{/);
  assert.match(await registry.metrics(), /x_seconds_count 0\n/);
  sent.inc(2);
  assert.match(await registry.metrics(), /c_total\{kind="http",outcome="sent"\} 2\n/);
});
