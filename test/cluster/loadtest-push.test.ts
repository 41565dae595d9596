// `push` against a real cluster: given --etcd, its receivers go to every worker in turn, so every worker pushes
// a share of the messages (the "receivers spread over all workers"), and none is lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseOptions } from '../../scripts/loadtest/args.js';
import { pushSpecs, runPush } from '../../scripts/loadtest/push.js';
import { LocalCluster } from '../support/cluster.js';
import { tempDir } from '../support/servers.js';
import { FAST_EMBEDDED } from './clients.js';

/** courier_messages_out_total{kind="message"} of one worker, from its /metrics. */
async function messagesOut(wsUrl: string): Promise<number> {
  const { port } = new URL(wsUrl);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => /^courier_messages_out_total\{[^}]*kind="message"/.test(l));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('cluster: loadtest push', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  const out = tempDir('loadtest-push-cluster');
  before(async () => {
    cluster = await LocalCluster.start({ ...FAST_EMBEDDED, workers: 3 });
  });
  after(async () => {
    await cluster?.stop();
    out.remove();
  });

  it('places the receivers on every worker in turn when given --etcd', async () => {
    const workers = cluster.nodesOf('worker');
    const before = await Promise.all(workers.map((w) => messagesOut(w.url)));
    const o = parseOptions('push', '', pushSpecs, [
      ...['--url', cluster.nodesOf('business')[0]!.url, '--api-key', cluster.secrets.apiKey],
      ...['--jwt-secret', cluster.secrets.jwtSecret, '--etcd', cluster.etcd.endpoint],
      ...['--mode', 'batch', '--batch-size', '10', '--rate', '100', '--duration', '2', '--receivers', '30'],
      ...['--procs', '2', '--drain', '10', '--out', out.path],
    ]);
    const result = await runPush(o);
    assert.equal(result.accepted, 200, JSON.stringify(result.report.tables));
    assert.equal(result.loss.lost, 0);
    assert.equal(result.report.summary['receivers placed on'], 'each worker in turn (3 workers in etcd)');
    // 30 receivers over 3 workers in turn: 10 each; message i goes to receiver i mod 30, so each receiver gets
    // 6 or 7 of the 200 and each worker pushes 60–70. Through the gateway (asked once per 50 connections by
    // each generator) the 30 would land on at most two workers.
    const pushed = await Promise.all(workers.map(async (w, i) => (await messagesOut(w.url)) - before[i]!));
    assert.equal(
      pushed.reduce((a, b) => a + b, 0),
      200,
    );
    for (const [i, n] of pushed.entries()) {
      assert.ok(n >= 60 && n <= 70, `${workers[i]!.id} pushed ${n} of 200 (all: ${pushed.join(', ')})`);
    }
  });
});
