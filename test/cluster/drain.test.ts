// Graceful drain of real role processes (issue 5): SIGTERM on a worker deregisters it before its clients
// hear 1012, refuses new upgrades, loses none of the messages it held un-ACKed and exits within
// shutdown.graceSeconds even when a client never answers the close; SIGTERM on a business node or a
// dispatcher during a burst answers every request it took, and exits 0.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Device } from '../chaos/devices.js';
import { ETCD_DIRS, LocalCluster, type ClusterNode } from '../support/cluster.js';
import { TestClient } from '../support/courier.js';
import { uniqueId, waitFor } from '../support/servers.js';
import { Clients, FAST } from './clients.js';

const GRACE_SECONDS = 3;
const EXIT_SLACK_MS = 1_000; // signal delivery, process exit and the test's own polling

/** A WebSocket client that completes the upgrade and then never reads again: it never answers a close. */
async function stubbornSocket(url: string, token: string): Promise<Socket> {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${u.pathname}?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: ${u.host}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const [head] = (await once(socket, 'data')) as [Buffer];
  assert.match(head.toString(), /^HTTP\/1\.1 101 /);
  socket.pause();
  return socket;
}

/** The status of a WebSocket upgrade refused before it happened (0 when the connection itself failed). */
function upgradeStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', () => resolve(0));
  });
}

describe('cluster: graceful drain', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let clients: Clients;
  const devices: Device[] = [];
  before(async () => {
    cluster = await LocalCluster.start({
      ...FAST,
      business: 2,
      dispatchers: 2,
      workers: 2,
      env: { ...FAST.env, COURIER_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) },
    });
    clients = new Clients(cluster);
  });
  after(async () => {
    for (const d of devices) d.close();
    clients?.closeAll();
    await cluster?.stop();
  });

  it('a worker deregisters, says 1012, refuses upgrades, hands everything off and exits in time', async (t) => {
    const [alice, bob, carol] = [uniqueId('alice'), uniqueId('bob'), uniqueId('carol')];
    for (const uid of [alice, alice, bob, bob]) devices.push(await Device.open(cluster, uid, uid));
    const victim = cluster.node(devices[0]?.worker ?? assert.fail('no worker'));
    const survivor = cluster.nodesOf('worker').find((w) => w.id !== victim.id) ?? assert.fail();
    // carol never ACKs: what the worker holds for her is un-ACKed when it drains.
    const carolSocket = await TestClient.open(victim.url, await clients.token(carol), false);
    const stubborn = await stubbornSocket(victim.url, await clients.token(uniqueId('mute')));
    const shop = uniqueId('shop');
    const held = await clients.send(clients.business(), shop, carol, 'held, never acked');
    await clients.receives(carolSocket, held.id);
    const sent: { id: string; to: string }[] = [];
    const send = async (to: string, text: string, via = clients.business(), retryMs = 0) => {
      sent.push({ id: (await clients.send(via, shop, to, text, retryMs)).id, to });
    };
    await send(alice, 'a1');
    await send(bob, 'b1');

    const key = `${ETCD_DIRS.worker}${victim.id}`;
    // Read the moment carol hears 1012: a linearizable read then must not find the key.
    const keyAtClose = carolSocket.closed.then(async ({ code }) => ({
      code,
      registered: (await cluster.etcdEntries()).has(key),
    }));
    const started = Date.now();
    const exited = cluster.kill(victim.id, 'SIGTERM');
    assert.deepEqual(await keyAtClose, { code: 1012, registered: false });
    // The mute client keeps the drain waiting for its close handshake: the worker is draining, not gone.
    assert.equal(await upgradeStatus(victim.url, await clients.token(uniqueId('late'))), 503);
    assert.equal((await fetch(new URL('/readyz', victim.url.replace(/^ws/, 'http')))).status, 503);
    await send(alice, 'a2 during the drain', clients.business(1), 5_000);
    await send(bob, 'b2 during the drain', clients.business(1), 5_000);
    await exited;
    const exitMs = Date.now() - started;
    t.diagnostic(`SIGTERM → exit ${victim.proc.child.exitCode} in ${exitMs} ms (grace ${GRACE_SECONDS} s)`);
    assert.equal(victim.proc.child.exitCode, 0, victim.proc.output().slice(-2_000));
    assert.ok(exitMs <= GRACE_SECONDS * 1000 + EXIT_SLACK_MS, `exited after ${exitMs} ms`);
    stubborn.resume();
    await waitFor('the mute client to be cut', () => stubborn.destroyed);

    await send(alice, 'a3 after');
    await send(bob, 'b3 after');
    // Every device came back through /v1/gateway to the survivor and shows everything once, in order.
    await waitFor('every device to catch up', () =>
      devices.every((d) => sent.every((s) => s.to !== d.uid || d.has(s.id))),
    );
    for (const d of devices) {
      assert.equal(d.state, 'open');
      assert.equal(d.worker, survivor.id);
      const mine = sent.filter((s) => s.to === d.uid);
      assert.deepEqual(
        d.emitted.map((m) => m.id),
        mine.map((s) => s.id),
        `${d.name} shows each message once, in order`,
      );
    }
    // carol reconnects (a raw client: through /v1/gateway by hand) and syncs what she never ACKed.
    const back = await clients.connect(carol);
    assert.equal(back.welcome.worker, survivor.id);
    back.send({ type: 'sync', conversation: held.conversation, after: 0 });
    const sync = await back.next('sync');
    assert.deepEqual(
      sync.messages.map((m) => m.id),
      [held.id],
    );
  });

  it('a business node answers every request it took during a burst, and exits 0', async (t) => {
    const victim = clients.business(0);
    const other = clients.business(1);
    const receiver = uniqueId('rcv');
    type Outcome = { clientMsgId: string; status: number; id?: string };
    const outcomes: Outcome[] = [];
    let stop = false;
    const loop = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const clientMsgId = `burst-${n}-${i}`;
        const body = { from: `sender-${n}`, to: receiver, type: 'text', content: clientMsgId, clientMsgId };
        const res = await cluster
          .http<{ id: string }>(victim.url, 'POST', '/v1/messages', body)
          .catch(() => null);
        outcomes.push({ clientMsgId, status: res?.status ?? 0, id: res?.json?.id });
        if (!res) stop = true; // refused or reset: the node is going away
      }
    };
    const loops = [0, 1, 2, 3, 4, 5, 6, 7].map(loop);
    await waitFor('a burst going', () => outcomes.length >= 80);
    const started = Date.now();
    await cluster.kill(victim.id, 'SIGTERM');
    const exitMs = Date.now() - started;
    stop = true;
    await Promise.all(loops);
    const count = (status: number) => outcomes.filter((o) => o.status === status).length;
    t.diagnostic(
      `${outcomes.length} requests: ${count(200)} × 200, ${count(0)} without answer; exit in ${exitMs} ms`,
    );
    assert.equal(victim.proc.child.exitCode, 0, victim.proc.output().slice(-2_000));
    assert.ok(exitMs <= GRACE_SECONDS * 1000 + EXIT_SLACK_MS, `exited after ${exitMs} ms`);
    assert.deepEqual(
      outcomes.filter((o) => o.status !== 200 && o.status !== 0),
      [],
      'every answer was a 200',
    );

    // The store, read through the other node: every 200 is there under the id it was answered with. A
    // request without an answer was refused (no connection) or cut before the node read it, so it is not
    // stored (the grace period is longer than any request); the caller's retry with the same clientMsgId
    // stores it exactly once.
    const conversations = new Set<string>();
    for (let n = 0; n < 8; n++) conversations.add([`sender-${n}`, receiver].sort().join(':'));
    const stored = async () => {
      const all = new Map<string, string[]>();
      for (const c of conversations) {
        const res = await cluster.http<{ messages: { id: string; content: string }[] }>(
          other.url,
          'GET',
          `/v1/conversations/${encodeURIComponent(`d:${c}`)}/messages?limit=500`,
        );
        for (const m of res.json.messages ?? []) all.set(m.content, [...(all.get(m.content) ?? []), m.id]);
      }
      return all;
    };
    const first = await stored();
    for (const o of outcomes) {
      if (o.status === 200)
        assert.deepEqual(first.get(o.clientMsgId), [o.id], `${o.clientMsgId} is stored once`);
      else
        assert.equal(first.get(o.clientMsgId), undefined, `${o.clientMsgId} got no answer and is not stored`);
    }
    for (const o of outcomes.filter((x) => x.status === 0)) {
      const [, n] = o.clientMsgId.split('-');
      const body = {
        from: `sender-${n}`,
        to: receiver,
        type: 'text',
        content: o.clientMsgId,
        clientMsgId: o.clientMsgId,
      };
      assert.equal((await cluster.http(other.url, 'POST', '/v1/messages', body)).status, 200);
    }
    const after = await stored();
    assert.equal(after.size, outcomes.length);
    assert.ok(
      [...after.values()].every((ids) => ids.length === 1),
      'no clientMsgId stored twice',
    );
    await cluster.startNode('business'); // leave two for the next test
  });

  it('a dispatcher finishes the pushes it took during a burst, and exits 0', async (t) => {
    const receiver = uniqueId('rcv');
    const socket = await clients.connect(receiver);
    const seen = new Map<string, number>();
    socket.ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; message?: { id: string } };
      if (f.type === 'message' && f.message) seen.set(f.message.id, (seen.get(f.message.id) ?? 0) + 1);
    });
    const victim: ClusterNode = cluster.nodesOf('dispatcher')[0] ?? assert.fail();
    const results: { id: string; delivered: number }[] = [];
    let stop = false;
    const loop = async (n: number) => {
      for (let i = 0; !stop; i++)
        results.push(await clients.send(clients.business(n % 2), `s${n}`, receiver, `${i}`));
    };
    const loops = [0, 1, 2, 3].map(loop);
    await waitFor('a burst going', () => results.length >= 40);
    const started = Date.now();
    await cluster.kill(victim.id, 'SIGTERM');
    const exitMs = Date.now() - started;
    await waitFor('more sends after the exit', () => results.length >= 40 + 40);
    stop = true;
    await Promise.all(loops);
    t.diagnostic(`${results.length} sends; dispatcher exit ${victim.proc.child.exitCode} in ${exitMs} ms`);
    assert.equal(victim.proc.child.exitCode, 0, victim.proc.output().slice(-2_000));
    assert.ok(exitMs <= GRACE_SECONDS * 1000 + EXIT_SLACK_MS, `exited after ${exitMs} ms`);
    assert.deepEqual(
      results.filter((r) => r.delivered !== 1),
      [],
      'every send reached the online receiver',
    );
    await waitFor('every push on the socket', () => results.every((r) => seen.has(r.id)));
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'no push arrived twice',
    );
  });
});
