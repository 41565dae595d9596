// The agent-assignment rule on its own; the end-to-end behaviour is in test/e2e/business-rules-*.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { customerServiceId, pickAgent } from '../../internal/business/assignment.js';
import type { AgentLoad } from '../../internal/store/store.js';

const load = (uid: string, sessions: number, maxSessions = 10): AgentLoad => ({ uid, sessions, maxSessions });

describe('agent assignment rule', () => {
  it('prefers online agents, even busier ones', () => {
    const loads = [load('a', 0), load('b', 5), load('c', 7)];
    assert.equal(pickAgent(loads, new Set(['b', 'c']), 0), 'b');
  });

  it('takes the least-loaded agent anyway when nobody under the cap is online', () => {
    const loads = [load('a', 3), load('b', 1), load('c', 10, 10)];
    assert.equal(pickAgent(loads, new Set(['c']), 0), 'b', 'c is online but full');
    assert.equal(pickAgent(loads, new Set(), 0), 'b');
  });

  it('breaks ties round-robin', () => {
    const loads = [load('a', 2), load('b', 2), load('c', 4)];
    const picks = [0, 1, 2, 3].map((turn) => pickAgent(loads, new Set(['a', 'b', 'c']), turn));
    assert.deepEqual(picks, ['a', 'b', 'a', 'b']);
  });

  it('never goes over maxSessions: null when everyone is full', () => {
    assert.equal(pickAgent([load('a', 2, 2), load('b', 3, 2)], new Set(['a']), 0), null);
    assert.equal(pickAgent([], new Set(), 0), null);
  });

  it('spreads evenly when applied one customer at a time', () => {
    const loads = ['a', 'b', 'c', 'd', 'e'].map((uid) => load(uid, 0, 30));
    for (let turn = 0; turn < 100; turn++) {
      const uid = pickAgent(loads, new Set(loads.map((l) => l.uid)), turn);
      const chosen = loads.find((l) => l.uid === uid) as AgentLoad;
      chosen.sessions++;
    }
    assert.deepEqual(
      loads.map((l) => l.sessions),
      [20, 20, 20, 20, 20],
    );
  });

  it('names a conversation by merchant and customer', () => {
    assert.equal(customerServiceId('shop', 'alice'), 'cs:shop:alice');
  });
});
