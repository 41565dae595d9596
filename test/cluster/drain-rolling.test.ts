// A rolling restart of every worker under steady traffic (issue 5): each worker in turn gets SIGTERM, exits by
// itself within its grace period, and starts again under the same id; its clients move to the others and back.
// Nothing answered may be lost, shown twice or shown out of order.
import assert from 'node:assert/strict';
import { setTimeout as pause } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { rollWorkers } from '../chaos/faults.js';
import { CHAOS_ENV, CHAOS_LEASE_TTL_SECONDS } from '../chaos/run.js';
import { Traffic } from '../chaos/traffic.js';
import { formatReport, verify } from '../chaos/verify.js';
import { LocalCluster } from '../support/cluster.js';

const GRACE_SECONDS = 2; // CHAOS_ENV's shutdown.graceSeconds

describe('cluster: rolling restart of every worker', { timeout: 150_000 }, () => {
  let cluster: LocalCluster;
  let traffic: Traffic | undefined;
  const crashes: string[] = [];
  before(async () => {
    cluster = await LocalCluster.start({
      leaseTtlSeconds: CHAOS_LEASE_TTL_SECONDS,
      env: CHAOS_ENV,
      onExit: (node, code) => crashes.push(`${node.id} exited with ${code}`),
    });
  });
  after(async () => {
    traffic?.close();
    await cluster?.stop();
  });

  it('loses nothing, shows each message once and in seq order on every device', async (t) => {
    traffic = await Traffic.connect(cluster, { receivers: 6, devices: 2, httpSenders: 3, wsSenders: 2 });
    const workers = new Set(traffic.receivers.map((d) => d.worker));
    assert.equal(workers.size, 3, `devices on every worker: ${[...workers].join()}`);
    traffic.start();
    await pause(2_000); // traffic before the first restart
    const lines = await rollWorkers(cluster, GRACE_SECONDS);
    await pause(2_000); // and after the last
    await traffic.stop();
    const report = await verify(cluster, traffic, 20_000);
    for (const line of [...lines, ...formatReport(report).split('\n')]) t.diagnostic(line);

    assert.deepEqual(crashes, []);
    assert.ok(
      traffic.receivers.every((d) => d.closes.includes(1012)),
      'every device was handed off at least once',
    );
    assert.ok(report.accepted > 50, `enough traffic (${report.accepted} accepted)`);
    assert.equal(report.accepted + report.unanswered, report.sent);
    assert.equal(report.notStored, 0, 'every accepted message is stored');
    assert.equal(report.storedTwice, 0, 'no clientMsgId is stored twice');
    assert.equal(report.devicesConnected, report.devices, 'every device ends connected');
    assert.equal(report.lost, 0, 'every device shows every accepted message');
    assert.equal(report.duplicatesDelivered, 0, 'no device shows a message twice');
    assert.equal(report.orderViolations, 0, 'each conversation in seq order');
    assert.deepEqual(report.problems, []);
  });
});
