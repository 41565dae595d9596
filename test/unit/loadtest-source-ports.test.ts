// Load tools: the local ports of connections bound to loopback source addresses, chosen by the generator
// (slices per generator and source, ports taken on the box skipped) and really used by both clients.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { Server as IoServer } from 'socket.io';
import { WebSocketServer } from 'ws';
import { openConn, type ConnEvents, type LoadConn } from '../../scripts/loadtest/clients.js';
import { loopbackSources, splitPlan } from '../../scripts/loadtest/plan.js';
import {
  SourcePorts,
  bindablePorts,
  generatorPorts,
  portSlices,
  portsTaken,
} from '../../scripts/loadtest/source-ports.js';

describe('loadtest source port slices', () => {
  for (const [procs, sources] of [
    [3, 2],
    [2, 2], // every generator uses one source only: its slice must be the whole share, not half
    [5, 3],
  ] as const) {
    it(`gives ${procs} generators × ${sources} sources disjoint slices that hold their connections`, () => {
      const ports = { lo: 1024, hi: 32_768 };
      const plan = splitPlan({
        count: 36_001,
        procs,
        sources: loopbackSources(sources),
        ports,
        maxPerProc: 19_000,
      });
      for (const source of plan.sources) {
        const slices = plan.procs
          .map((p) => ({ need: p.perSource[source] ?? 0, slice: portSlices(plan, p.index).get(source) }))
          .filter((s) => s.need > 0);
        let end = ports.lo;
        for (const { need, slice } of slices) {
          assert.ok(slice, `a generator with ${need} connections on ${source} has no slice`);
          assert.ok(
            slice.lo >= end && slice.hi <= ports.hi,
            `${JSON.stringify(slice)} overlaps or leaves the range`,
          );
          assert.ok(slice.hi - slice.lo >= need, `slice of ${slice.hi - slice.lo} for ${need} connections`);
          end = slice.hi;
        }
      }
    });
  }

  it('refuses a plan with more connections on a source than bindable ports', () => {
    assert.throws(
      () =>
        splitPlan({ count: 20_000, procs: 2, sources: loopbackSources(1), ports: { lo: 1024, hi: 11_024 } }),
      /only 10000 ports .* use --sources 2/,
    );
  });

  it('reads the bindable range below the kernel ephemeral range', () => {
    assert.deepEqual(
      bindablePorts(() => '40000\t60999\n'),
      { lo: 1024, hi: 40_000 },
    );
    assert.deepEqual(
      bindablePorts(() => {
        throw new Error('ENOENT');
      }),
      { lo: 1024, hi: 32_768 },
    );
  });
});

describe('loadtest ports taken', () => {
  it('finds the ports of our sources in any state, and wildcard listeners, in /proc/net/tcp{,6}', () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0200007F:2710 0100007F:1F90 06 00000000:00000000 03:00000ABC 00000000     0        0 0',
      '   1: 0300007F:2711 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1',
      '   2: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2',
      '   3: 0100007F:2712 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3',
    ].join('\n');
    const tcp6 = [
      '  sl  local_address                         remote_address                        st',
      '   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A',
    ].join('\n');
    const taken = portsTaken(['127.0.0.2', '127.0.0.3'], (path) => (path.endsWith('6') ? tcp6 : tcp));
    assert.deepEqual([...taken].sort(), ['*:3306', '*:8081', '127.0.0.2:10000', '127.0.0.3:10001']);
  });

  it('hands out the ports of the slice in turn, skipping taken ones, then 0 (the kernel picks)', () => {
    const slices = new Map([['127.0.0.2', { lo: 5000, hi: 5004 }]]);
    const ports = new SourcePorts(slices, new Set(['127.0.0.2:5001', '*:5002', '127.0.0.3:5003']));
    assert.deepEqual(
      [ports.next('127.0.0.2'), ports.next('127.0.0.2'), ports.next('127.0.0.2'), ports.next('127.0.0.3')],
      [5000, 5003, 0, 0],
    );
  });
});

const quiet = (open: (conn: LoadConn) => void, fail: (reason: string) => void): ConnEvents => ({
  open,
  fail: (_i, reason) => fail(reason),
  drop: () => undefined,
  message: () => undefined,
});

function opened(connect: (events: ConnEvents) => LoadConn): Promise<LoadConn> {
  return new Promise((resolve, reject) => connect(quiet(resolve, (reason) => reject(new Error(reason)))));
}

describe('loadtest clients bind the chosen source port', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((close) => close()));

  it('courier and Socket.IO connections come from the generator port, not one taken on the box', async () => {
    // A listener on 127.0.0.2 holds the first port of the slice, as TIME_WAIT from an earlier run would.
    let blocker: Server | undefined;
    for (let port = 20_000; !blocker && port < 20_100; port++) {
      const server = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.2', () => resolve(true));
      });
      if (ok) blocker = server;
    }
    assert.ok(blocker, 'no free port to block in 20000–20099');
    closers.push(() => blocker?.close());
    const blocked = (blocker.address() as AddressInfo).port;
    const plan = splitPlan({
      count: 2,
      procs: 1,
      sources: ['127.0.0.2'],
      ports: { lo: blocked, hi: 32_768 },
    });
    const ports = generatorPorts(plan, 0);

    const seen: { address: string; port: number }[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (ws, req) => {
      seen.push({ address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 });
      ws.send('{"type":"welcome"}');
    });
    await new Promise((resolve) => wss.once('listening', resolve));
    closers.push(() => wss.close());
    const http = createHttpServer();
    const io = new IoServer(http, { transports: ['websocket'] });
    io.on('connection', (socket) =>
      seen.push({
        address: socket.request.socket.remoteAddress ?? '',
        port: socket.request.socket.remotePort ?? 0,
      }),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(() => void io.close());

    const handed: number[] = [];
    const local = () => {
      handed.push(ports.next('127.0.0.2'));
      return { address: '127.0.0.2', port: handed.at(-1) as number };
    };
    const wsUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    const ioUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const conns = [
      await opened((ev) => openConn('courier', 0, wsUrl, { token: 't', uid: 'u' }, local(), 5000, ev)),
      await opened((ev) => openConn('socketio', 1, ioUrl, { token: '', uid: 'u' }, local(), 5000, ev)),
    ];
    closers.push(() => conns.forEach((c) => c.close()));
    // Ports left in TIME_WAIT by an earlier run of this test are skipped too, so the exact ports vary.
    assert.ok(
      handed.every((port) => port > blocked && port < 32_768),
      `handed ${handed.join(', ')}`,
    );
    assert.deepEqual(
      seen,
      handed.map((port) => ({ address: '127.0.0.2', port })),
    );
  });
});
