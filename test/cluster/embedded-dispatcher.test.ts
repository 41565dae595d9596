// A cluster without dispatcher processes: the business process runs its own dispatcher
// (business.embedDispatcher), registered in etcd like any other, and hands its messages to it with a call.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ETCD_DIRS, LocalCluster } from '../support/cluster.js';
import { uniqueId, waitFor } from '../support/servers.js';
import { Clients, FAST_EMBEDDED } from './clients.js';

/** Established TCP connections on this host to `port`, from /proc/net/tcp (state 01 = ESTABLISHED). */
function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[2]?.endsWith(`:${hexPort}`) && f[3] === '01').length;
}

describe('cluster: business with its own dispatcher', { timeout: 90_000 }, () => {
  let cluster: LocalCluster;
  let clients: Clients;
  before(async () => {
    cluster = await LocalCluster.start({ ...FAST_EMBEDDED, workers: 2 });
    clients = new Clients(cluster);
  });
  after(async () => {
    clients?.closeAll();
    await cluster?.stop();
  });

  it('registers the embedded dispatcher and pushes to users on every worker over gRPC', async () => {
    const business = clients.business();
    const entries = await cluster.etcdEntries();
    const own = entries.get(`${ETCD_DIRS.dispatcher}${business.id}-dispatcher`);
    assert.ok(own, `etcd holds ${[...entries.keys()].join(', ')}`);
    assert.match(String(own.value.http), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(cluster.nodesOf('dispatcher').length, 0, 'no dispatcher process');

    const workers = cluster.nodesOf('worker');
    const users = workers.map((w) => ({ uid: uniqueId(`on-${w.id}-`), worker: w }));
    const sockets = await Promise.all(users.map((u) => clients.connect(u.uid, u.worker)));
    for (const u of users) {
      await waitFor(`${u.uid} in the registry`, () => cluster.registry(u.uid).size === 1, 5_000);
    }
    const sender = uniqueId('legacy');
    for (const [i, u] of users.entries()) {
      const sent = await clients.send(business, sender, u.uid, `hello ${i}`);
      assert.equal(sent.delivered, 1, `pushed to ${u.uid} on ${u.worker.id}`);
      await clients.receives(sockets[i]!, sent.id);
    }
    // Business called its dispatcher in-process: no keep-alive connection to the dispatcher's HTTP port.
    assert.equal(establishedTo(Number(new URL(String(own.value.http)).port)), 0);
  });
});
