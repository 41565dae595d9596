// push --server-gc: reading each server process's GC pauses and event-loop delay from its /metrics, second by
// second, against real HTTP servers, a real prom-client registry and a real etcd.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EVENT_LOOP_SAMPLE_MS, Metrics } from '../../internal/metrics/metrics.js';
import {
  GcRecorder,
  metricsTargetsFromEtcd,
  metricsUrl,
  parseGcReading,
} from '../../scripts/loadtest/server-gc.js';
import { startEtcd, type EtcdServer } from '../support/etcd.js';

/** An exposition as prom-client writes it: GC sums by kind, then the event-loop gauges. */
function exposition(minor: number, major: number, lagMax: number): string {
  return [
    '# HELP nodejs_gc_duration_seconds Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    '# TYPE nodejs_gc_duration_seconds histogram',
    'nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} 3',
    `nodejs_gc_duration_seconds_sum{kind="minor"} ${minor}`,
    'nodejs_gc_duration_seconds_count{kind="minor"} 9',
    `nodejs_gc_duration_seconds_sum{kind="major"} ${major}`,
    'nodejs_gc_duration_seconds_count{kind="major"} 1',
    'nodejs_eventloop_lag_seconds 0.002',
    'nodejs_eventloop_lag_min_seconds 0.0999',
    `nodejs_eventloop_lag_max_seconds ${lagMax}`,
    '',
  ].join('\n');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

describe('loadtest server GC readings', () => {
  it('sums the GC kinds, keeps major apart, and takes the sampling interval off the event-loop delay', () => {
    const reading = parseGcReading(exposition(0.25, 0.5, 0.35));
    assert.ok(reading);
    assert.equal(reading.gcSeconds, 0.75);
    assert.equal(reading.majorSeconds, 0.5);
    assert.ok(Math.abs((reading.lagMaxSeconds ?? -1) - (0.35 - EVENT_LOOP_SAMPLE_MS / 1000)) < 1e-9);
    assert.equal(parseGcReading('# nothing\nhttp_requests_total 3\n'), null, 'not a Node process');
    assert.deepEqual(parseGcReading('nodejs_eventloop_lag_max_seconds 0.05\n'), {
      gcSeconds: 0,
      majorSeconds: 0,
      lagMaxSeconds: 0, // below the interval: the timer fired early, no delay
    });
  });

  it('reads what courier itself exposes', async () => {
    const metrics = Metrics.create();
    let keep = 0;
    for (let i = 0; i < 400_000; i++) keep += [i, { i }].length; // enough garbage for a few scavenges
    await new Promise((resolve) => setTimeout(resolve, 200)); // GC entries reach prom-client's observer
    const reading = parseGcReading(await metrics.registry.metrics());
    assert.ok(keep > 0);
    assert.ok(reading, 'courier metrics carry GC sums and the event-loop gauges');
    assert.ok(reading.gcSeconds > 0, 'the collections just made are counted');
    assert.ok(reading.lagMaxSeconds !== null && reading.lagMaxSeconds < 1);
  });

  it('turns readings into pauses per second, leaving out the seconds next to a failed read or a restart', async () => {
    // One server's answers in order; the recorder reads once per period.
    const answers: Array<string | number> = [
      exposition(0.1, 0, 0.1),
      exposition(0.13, 0, 0.12), // second 0: 30 ms, loop delayed 20 ms
      exposition(0.15, 0.04, 0.25), // second 1: 60 ms of which 40 major, delay 150 ms
      500, // a failed read: seconds 2 and 3 are unknown
      exposition(0.2, 0.04, 0.1),
      exposition(0.01, 0, 0.1), // the process restarted: second 4 is unknown
      exposition(0.02, 0, 0.1), // second 5: 10 ms
    ];
    let served = 0;
    const server = createServer((_req, res) => {
      const answer = answers[served++] ?? 404; // after the list: unknown, so nothing past second 5 counts
      if (typeof answer === 'number') res.writeHead(answer).end();
      else res.end(answer);
    });
    const url = await listen(server);
    // Reads 200 ms apart: each must answer within its period, which a loaded test machine still manages.
    const recorder = new GcRecorder([{ name: 'one', url }], Date.now(), Date.now, 200);
    try {
      recorder.start();
      while (served < answers.length) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await recorder.stop();
      server.close();
    }
    const [one] = recorder.series();
    assert.ok(one);
    assert.deepEqual(one.gcMs, [
      [0, 30],
      [1, 60],
      [5, 10],
    ]);
    assert.deepEqual(one.majorMs, [
      [0, 0],
      [1, 40],
      [5, 0],
    ]);
    assert.deepEqual(one.lagMaxMs, [
      [0, 20],
      [1, 150],
      [5, 0],
    ]);
  });

  it('builds each node metrics address from its discovery record', () => {
    assert.equal(metricsUrl('{"ws":"ws://10.0.0.7:8090/ws"}', 'ws'), 'http://10.0.0.7:8090/metrics');
    assert.equal(metricsUrl('{"http":"http://127.0.0.1:8081"}', 'http'), 'http://127.0.0.1:8081/metrics');
    assert.equal(metricsUrl('{"http":"http://127.0.0.1:8081"}', 'ws'), null, 'no such field');
    assert.equal(metricsUrl('not json', 'http'), null);
  });

  describe('from etcd', () => {
    let etcd: EtcdServer;
    before(async () => {
      etcd = await startEtcd();
    });
    after(async () => {
      await etcd?.stop();
    });

    it('lists business, dispatchers and workers with their metrics addresses', async () => {
      const client = new Etcd3({ hosts: [etcd.endpoint] });
      try {
        await client.put('/t/workers/w2').value('{"id":"w2","ws":"ws://127.0.0.1:9092/ws","grpc":"x"}');
        await client.put('/t/workers/w1').value('{"id":"w1","ws":"ws://127.0.0.1:9091/ws","grpc":"x"}');
        await client.put('/t/business/b1').value('{"id":"b1","http":"http://127.0.0.1:8080"}');
        await client.put('/t/dispatchers/d1').value('{"id":"d1","http":"http://127.0.0.1:8081"}');
        // Two records of one address are one process.
        await client.put('/t/dispatchers/d0').value('{"id":"d0","http":"http://127.0.0.1:8080"}');
        await client.put('/t/workers/broken').value('not a record');
      } finally {
        client.close();
      }
      assert.deepEqual(await metricsTargetsFromEtcd([etcd.endpoint], '/t/'), [
        { name: 'business b1 + dispatcher d0', url: 'http://127.0.0.1:8080/metrics' },
        { name: 'dispatcher d1', url: 'http://127.0.0.1:8081/metrics' },
        { name: 'worker w1', url: 'http://127.0.0.1:9091/metrics' },
        { name: 'worker w2', url: 'http://127.0.0.1:9092/metrics' },
      ]);
    });

    it('reads a process once when its nodes listen on ports of their own', async () => {
      const client = new Etcd3({ hosts: [etcd.endpoint] });
      try {
        await client.put('/u/business/b1').value('{"id":"b1","http":"http://127.0.0.1:8080"}');
        // A business node's embedded dispatcher serves its own port from the same process.
        await client
          .put('/u/dispatchers/b1-dispatcher')
          .value('{"id":"b1-d","http":"http://127.0.0.1:8082"}');
        await client.put('/u/workers/w1').value('{"id":"w1","ws":"ws://127.0.0.1:9091/ws"}');
      } finally {
        client.close();
      }
      const pids: Record<string, number> = { '8080': 100, '8082': 100, '9091': 200 };
      const pidOf = (record: string, field: 'http' | 'ws') =>
        pids[new URL(String((JSON.parse(record) as Record<string, unknown>)[field])).port] ?? null;
      assert.deepEqual(await metricsTargetsFromEtcd([etcd.endpoint], '/u/', pidOf), [
        { name: 'business b1 + dispatcher b1-dispatcher', url: 'http://127.0.0.1:8080/metrics' },
        { name: 'worker w1', url: 'http://127.0.0.1:9091/metrics' },
      ]);
    });
  });
});
