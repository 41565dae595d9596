// How long `conns` waits for its opens: for as long as answers keep coming, not a deadline from the asked rate
// (a million opened slower than asked once had a run measure while opens went on).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { settleWhileAnswering } from '../../scripts/loadtest/conns.js';
import { GeneratorError } from '../../scripts/loadtest/fleet.js';

/** Fleet.race's contract: the promise, or a GeneratorError "…: no answer within …" after `ms`. */
const racer = (failure?: Error) => ({
  race<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    if (failure) return Promise.reject(failure);
    return Promise.race([
      promise,
      sleep(ms).then(() => {
        throw new GeneratorError(`${what}: no answer within ${ms / 1000} s`);
      }),
    ]);
  },
});

describe('loadtest conns: waiting for the opens', () => {
  it('keeps waiting past the stall time while opens are still being answered', async () => {
    let answered = 0;
    const ticker = setInterval(() => answered++, 20);
    const started = Date.now();
    try {
      const all = await settleWhileAnswering(racer(), sleep(400), () => answered, 120, 30);
      assert.equal(all, true);
      assert.ok(Date.now() - started >= 390, 'waited for the last generator to settle');
    } finally {
      clearInterval(ticker);
    }
  });

  it('gives up after the stall time without a new answer, and says so', async () => {
    const started = Date.now();
    const never = new Promise<void>(() => undefined);
    const all = await settleWhileAnswering(racer(), never, () => 42, 150, 30);
    assert.equal(all, false);
    const waited = Date.now() - started;
    assert.ok(waited >= 150 && waited < 1_000, `waited ${waited} ms`);
  });

  it('fails at once when a generator dies', async () => {
    const died = new GeneratorError('generator 3 exited early (code 1, signal null)');
    await assert.rejects(
      settleWhileAnswering(racer(died), sleep(1_000), () => 0, 150, 30),
      died,
    );
  });
});
