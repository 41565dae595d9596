// One small real run of `push` (forked generators, gateway, tokens, HTTP sends, ACKing receivers) against an
// in-process courier: everything accepted must arrive, once, the server CPU per message must be measured, and
// the report files must exist.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseOptions } from '../../scripts/loadtest/args.js';
import { pushSpecs, runPush } from '../../scripts/loadtest/push.js';
import { API_KEY, TestCourier } from '../support/courier.js';
import { tempDir } from '../support/servers.js';

describe('loadtest push against a TestCourier', () => {
  let courier: TestCourier;
  const out = tempDir('loadtest-report');

  before(async () => {
    courier = await TestCourier.start({ business: { openMessaging: true } });
  });
  after(async () => {
    await courier?.stop();
    out.remove();
  });

  it(
    'delivers 200 messages at 100/s to 10 receivers with none lost and writes the report',
    { timeout: 30_000 },
    async () => {
      const o = parseOptions('push', '', pushSpecs, [
        ...['--url', courier.baseUrl, '--api-key', API_KEY, '--jwt-secret', courier.config.auth.jwt.secret],
        ...['--mode', 'http', '--rate', '100', '--duration', '2', '--receivers', '10', '--procs', '2'],
        ...['--drain', '10', '--out', out.path, '--worker-pids', String(process.pid), '--server-gc'],
      ]);
      const result = await runPush(o);
      assert.equal(result.accepted, 200, JSON.stringify(result.report.tables));
      assert.equal(result.loss.lost, 0);
      assert.equal(result.loss.expectedDeliveries, 200);
      assert.equal(result.report.summary['duplicates'], 0);
      assert.equal(result.report.summary['delivered (unique, all devices)'], 200);
      assert.equal(result.latencyMs.count, 200);
      assert.ok(result.latencyMs.p50 > 0 && result.latencyMs.max < 10_000, JSON.stringify(result.latencyMs));
      // The in-process courier is this test process: its CPU over the 2 s of sending, per delivered message.
      const cpuUs = result.report.summary['server CPU per delivered message (µs)'];
      assert.ok(typeof cpuUs === 'number' && cpuUs > 0, `CPU per message ${cpuUs}`);
      assert.equal(result.cpuPerMessageUs, cpuUs);
      assert.ok(result.cpuCores !== null && result.cpuCores > 0, `cores busy ${result.cpuCores}`);
      // The per-process table gives each process's share per message; with one server process, all of it.
      const cpuTable = result.report.tables.find((t) => t.title.startsWith('Server CPU in seconds'));
      const column = cpuTable?.columns.indexOf('µs per delivered message') ?? -1;
      assert.deepEqual(
        cpuTable?.rows.map((r) => r[column]),
        [cpuUs],
        JSON.stringify(cpuTable),
      );
      // Run-queue waits of the server (this process) and of the two generators, read with the CPU.
      const serverWait =
        result.report.summary['server event loops waiting for a core (ms per second, all together)'];
      assert.ok(typeof serverWait === 'number' && serverWait >= 0, `server wait ${serverWait}`);
      const generators =
        result.report.summary[
          'load generators: cores busy, and waiting for a core (ms per second, all together)'
        ];
      assert.match(String(generators), /^\d+(\.\d+)? cores, \d+(\.\d+)? ms\/s$/);
      // --server-gc read this process's /metrics through --url once a second.
      const gc = result.report.tables.find((t) => t.title.startsWith('GC pauses and event-loop delay'));
      assert.deepEqual(
        gc?.rows.map((r) => r[0]),
        ['courier'],
        JSON.stringify(result.report.warnings),
      );
      const waiting = result.report.summary['requests waiting for a generator socket (peak)'];
      assert.ok(typeof waiting === 'number' && waiting >= 0, `waiting ${waiting}`);
      assert.ok(existsSync(result.files.json) && existsSync(result.files.html));
      const html = readFileSync(result.files.html, 'utf8');
      assert.match(html, /<svg/);
      assert.match(html, /server CPU per delivered message/);
      assert.doesNotMatch(
        html,
        /<script|https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/,
        'the report is self-contained',
      );
      const json = JSON.parse(readFileSync(result.files.json, 'utf8')) as { options: { apiKey: string } };
      assert.equal(json.options.apiKey, '(redacted)');
    },
  );
});
