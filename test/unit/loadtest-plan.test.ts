import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HARD_FILE_LIMIT,
  PlanError,
  autoProcs,
  autoSources,
  connectionsOf,
  loopbackSources,
  splitPlan,
} from '../../scripts/loadtest/plan.js';

describe('loadtest plan splitter', () => {
  it('gives every connection to exactly one process, balanced within one', () => {
    const plan = splitPlan({ count: 10_007, procs: 3, sources: loopbackSources(2) });
    const seen = new Set<number>();
    for (const p of plan.procs) {
      for (const c of connectionsOf(plan, p.index)) {
        assert.ok(!seen.has(c.index), `connection ${c.index} planned twice`);
        seen.add(c.index);
      }
    }
    assert.equal(seen.size, 10_007);
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      Array.from({ length: 10_007 }, (_, i) => i),
    );
    const counts = plan.procs.map((p) => p.count);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1);
  });

  it('spreads the connections over the sources within one of each other', () => {
    const sources = loopbackSources(4);
    const plan = splitPlan({ count: 40_003, procs: 6, sources });
    const totals = Object.values(plan.perSource);
    assert.equal(
      totals.reduce((a, b) => a + b, 0),
      40_003,
    );
    assert.ok(Math.max(...totals) - Math.min(...totals) <= 1);
    // The connections the generators will open bind the addresses the plan counted.
    const bound: Record<string, number> = {};
    for (const p of plan.procs)
      for (const c of connectionsOf(plan, p.index)) bound[c.source] = (bound[c.source] ?? 0) + 1;
    assert.deepEqual(bound, plan.perSource);
  });

  it('never plans more than the per-process cap, and says how many processes it needs', () => {
    for (const [count, procs] of [
      [1_000_000, 67],
      [15_000, 1],
      [30_001, 3],
    ] as const) {
      const plan = splitPlan({ count, procs, sources: autoSources(count, 0, '127.0.0.2') });
      assert.ok(plan.procs.every((p) => p.count <= 15_000));
    }
    assert.throws(
      () => splitPlan({ count: 1_000_000, procs: 10, sources: loopbackSources(40) }),
      (err: unknown) => err instanceof PlanError && /100000 per process.*--procs 67/.test(err.message),
    );
    assert.throws(
      () => splitPlan({ count: 10, procs: 1, sources: [], maxPerProc: HARD_FILE_LIMIT }),
      PlanError,
    );
  });

  it('refuses too many connections on one source address', () => {
    assert.throws(
      () => splitPlan({ count: 60_000, procs: 4, sources: loopbackSources(2) }),
      (err: unknown) => err instanceof PlanError && /source/.test(err.message),
    );
  });

  it('chooses process and source counts automatically, staying on 127.0.0.0/8', () => {
    assert.equal(autoProcs(1_000_000, 0), 67);
    assert.equal(autoProcs(100, 0), 1);
    assert.equal(autoProcs(100, 4), 4);
    assert.equal(autoSources(1_000_000, 0, '127.0.0.2').length, 40);
    assert.deepEqual(autoSources(25_000, 0, '127.0.0.2'), [], 'one source is enough: bind none');
    assert.deepEqual(autoSources(25_000, 1, '127.0.0.2'), ['127.0.0.2'], 'asked for: bound');
    assert.deepEqual(loopbackSources(3, '127.0.0.254'), ['127.0.0.254', '127.0.0.255', '127.0.1.0']);
    assert.throws(() => loopbackSources(2, '10.0.0.1'), PlanError);
  });
});
