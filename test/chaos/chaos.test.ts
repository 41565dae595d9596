// The short chaos run of issue 5 (`npm run chaos` is the long one): steady HTTP and WebSocket traffic through
// a real cluster while a worker and a dispatcher are SIGKILLed (and replaced), Redis restarts empty, etcd
// restarts wiped and a worker is frozen (SIGSTOP) past its lease. Nothing that was answered may be lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChaos } from './run.js';
import { formatReport } from './verify.js';

describe('chaos', { timeout: 150_000 }, () => {
  it('loses nothing that got a 200 or `sent` through every fault, delivers it once and in order', async (t) => {
    const { report, faults, crashes, elapsedMs } = await runChaos({ gapMs: 3_000, settleMs: 20_000 });
    for (const line of faults) t.diagnostic(line);
    t.diagnostic(`${(elapsedMs / 1000).toFixed(1)} s of traffic and checks`);
    for (const line of formatReport(report).split('\n')) t.diagnostic(line);

    assert.deepEqual(crashes, [], 'no node exited by itself');
    assert.equal(faults.length, 5);
    assert.ok(report.accepted > 100, `enough traffic to mean something (${report.accepted} accepted)`);
    assert.equal(report.accepted + report.unanswered, report.sent, 'every send was answered or given up on');
    assert.equal(report.notStored, 0, 'every accepted message is stored');
    assert.equal(report.storedTwice, 0, 'no clientMsgId is stored twice');
    assert.equal(report.devicesConnected, report.devices, 'every device ends connected');
    assert.equal(report.lost, 0, 'every connected device shows every accepted message');
    assert.equal(report.duplicatesDelivered, 0, 'no device shows a message twice');
    assert.equal(report.orderViolations, 0, 'each conversation is shown in seq order');
    assert.deepEqual(report.problems, [], 'no contract break seen by the senders');
  });
});
