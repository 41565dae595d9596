// How fast this machine is at the time of a run, so that a slower run can be told apart from a slower program.
// On the shared 2-core VM the same code on the same setup has measured a fifth slower from one hour to the next
// (BENCHMARKS.md, target 2 session 8), and its perf has no hardware counters (no cycles, no instructions), so
// CPU time per message cannot be normalised by them. Two stand-ins instead:
// - a probe: the same fixed work timed before and after the load (JS work, and round trips over a loopback
//   TCP socket, which is what every hop of courier pays in syscalls);
// - what the whole machine did during the timed window (cpu.ts, machineSharesBetween).
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { round2 } from './cpu.js';
import { median } from './stats.js';

export interface BoxProbe {
  /** ns per JSON round trip (stringify + parse) of a message-sized object: median of 5 timed rounds. */
  jsNsPerOp: number;
  /** µs per 1-byte request/answer over a loopback TCP socket within this process: 4 syscalls and 2 wakeups. */
  loopbackRoundTripUs: number;
}

const JS_OPS = 20_000;
const ROUND_TRIPS = 2_000;

export async function probeBox(): Promise<BoxProbe> {
  return { jsNsPerOp: jsWork(), loopbackRoundTripUs: await loopbackRoundTrips() };
}

export function describeProbe(p: BoxProbe): string {
  return `JSON ${p.jsNsPerOp} ns/op, loopback round trip ${p.loopbackRoundTripUs} µs`;
}

function jsWork(): number {
  const message = {
    id: '01JD9Z8W4Q5ZB9E6ZP3R6Y2QXK',
    conversation: 'd:load-0001:load-0002',
    seq: 1,
    from: 'load-0001',
    to: ['load-0002'],
    type: 'text',
    content: { text: 'hello, is this still available in blue?' },
    ts: 1_795_000_000_000,
  };
  const rounds: number[] = [];
  let sink = 0; // keeps the work from being optimised away
  for (let r = 0; r < 6; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < JS_OPS; i++) {
      message.seq = i;
      sink += (JSON.parse(JSON.stringify(message)) as { seq: number }).seq;
    }
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - started) / JS_OPS); // round 0 warms the JIT
  }
  if (sink < 0) throw new Error('unreachable');
  return round2(median(rounds) ?? Number.NaN);
}

async function loopbackRoundTrips(): Promise<number> {
  const server = createServer((socket) => socket.on('data', (d) => socket.write(d)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  let client: Socket | undefined;
  try {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    client = socket;
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const byte = Buffer.from([1]);
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      let left = ROUND_TRIPS;
      socket.once('error', reject);
      socket.on('data', () => {
        if (--left === 0) resolve();
        else socket.write(byte);
      });
      socket.write(byte);
    });
    return round2(Number(process.hrtime.bigint() - started) / 1000 / ROUND_TRIPS);
  } finally {
    client?.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
