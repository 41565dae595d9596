// Thousands of random and mutated HTTP bodies and WebSocket frames thrown at a running all-in-one while
// valid traffic flows. Asserts: every HTTP answer is a documented status with the error body, every frame
// is a documented frame and every close a documented code; in every conversation a fuzz user touched, the
// stored messages are exactly those whose send was answered with success (nothing stored from invalid
// input, nothing lost from valid input); all valid traffic is delivered; the server still answers.
// The seed is printed; COURIER_FUZZ_SEED=<seed> replays a run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY, TestCourier, type TestClient } from '../support/courier.js';
import {
  FUZZ_KEY,
  fuzzHttp,
  fuzzUpgrade,
  fuzzWsSession,
  Ledger,
  replay,
  type Fuzz,
} from '../support/fuzz-clients.js';
import { Rng } from '../support/fuzz-input.js';
import { uniqueId, waitFor } from '../support/servers.js';

const SEED = Number(process.env.COURIER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
// Inputs per kind; COURIER_FUZZ_COUNT raises it for a longer hunt.
const HTTP_REQUESTS = Number(process.env.COURIER_FUZZ_COUNT ?? 2_000);
const WS_FRAMES = HTTP_REQUESTS;
const HTTP_WORKERS = 12; // requests in flight at once
const WS_WORKERS = 6; // fuzz sockets open at once

async function storedIds(courier: TestCourier, conversation: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let after = 0; ;) {
    const path = `/v1/conversations/${encodeURIComponent(conversation)}/messages?after=${after}&limit=500`;
    const res = await courier.http<{ messages: { id: string; seq: number }[]; hasMore: boolean }>(
      'GET',
      path,
    );
    if (res.status === 404 || res.status === 400) return ids;
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.json)}`);
    for (const m of res.json.messages) ids.add(m.id);
    if (!res.json.hasMore) return ids;
    after = res.json.messages.at(-1)?.seq ?? after;
  }
}

describe('fuzz', () => {
  it(`random and mutated input never breaks the contract (seed ${SEED})`, async (t) => {
    t.diagnostic(`fuzz seed ${SEED}: replay with COURIER_FUZZ_SEED=${SEED}`);
    const courier = await TestCourier.start({
      auth: { apiKeys: [API_KEY, FUZZ_KEY] },
      business: { openMessaging: true },
      blacklist: { maxConnects: 100_000, maxConnectsPerIp: 1_000_000 }, // fuzz sessions reconnect a lot
    });
    try {
      const run = uniqueId('');
      const users = Array.from({ length: 8 }, (_, i) => `fz-${run}-${i}`);
      const sign = async (uid: string) =>
        (await courier.app.tokens.sign({ uid, role: 'customer', platform: 'web' })).token;
      const tokens = new Map(await Promise.all(users.map(async (u) => [u, await sign(u)] as const)));
      const f: Fuzz = { courier, ledger: new Ledger(), users, tokens };

      // Valid traffic: HTTP and WebSocket senders, four receivers on two devices each, all acking.
      const receivers = Array.from({ length: 4 }, (_, i) => `vt-${run}-r${i}`);
      const devices = new Map<string, TestClient[]>();
      for (const r of receivers)
        devices.set(r, [await courier.connect(r, 'web'), await courier.connect(r, 'app')]);
      const wsSender = await courier.connect(`vt-${run}-ws`);
      const expected = new Map(receivers.map((r) => [r, new Set<string>()]));
      let fuzzing = true;
      const validHttp = async () => {
        for (let i = 0; i < 100 || fuzzing; i++) {
          const to = receivers[i % receivers.length] as string;
          const res = await courier.http<{ id: string }>('POST', '/v1/messages', {
            from: `vt-${run}-http`,
            to,
            type: 'text',
            content: `valid ${i}`,
            clientMsgId: `v${i}`,
          });
          assert.equal(res.status, 200, `valid send ${i}: ${JSON.stringify(res.json)}`);
          expected.get(to)?.add(res.json.id);
        }
      };
      const validWs = async () => {
        for (let i = 0; i < 100 || fuzzing; i++) {
          const to = receivers[i % receivers.length] as string;
          wsSender.send({
            type: 'send',
            clientMsgId: `s${i}`,
            message: { to, type: 'text', content: `valid ws ${i}` },
          });
          const sent = await wsSender.wait((fr) => fr.type === 'sent' || fr.type === 'error', 10_000);
          assert.equal(sent.type, 'sent', JSON.stringify(sent));
          if (sent.type === 'sent') expected.get(to)?.add(sent.message.id);
          // Pacing, not synchronisation: a client typing fast stays under worker.maxFramesPerSecond.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };

      // Each worker draws from its own generator, so a seed replays the same inputs whatever the timing.
      let httpCount = 0;
      let frameCount = 0;
      const started = Date.now();
      const unknown: [string, string][] = [];
      const took = { http: 0, ws: 0 };
      const httpWorker = async (rng: Rng) => {
        for (let i = 0; i < HTTP_REQUESTS / HTTP_WORKERS; i++) await fuzzHttp(f, rng, httpCount++);
        took.http = Date.now() - started;
      };
      const wsWorker = async (rng: Rng) => {
        for (let sent = 0; sent < WS_FRAMES / WS_WORKERS;) {
          if (rng.chance(0.1)) await fuzzUpgrade(f, rng);
          const uid = rng.pick(users);
          const frames = 4 + rng.int(12); // under the 20 parser refusals that close a connection
          sent += frames;
          frameCount += frames;
          const session = await fuzzWsSession(f, rng, uid, frames);
          for (const text of session.unknown) unknown.push([uid, text]);
        }
        took.ws = Date.now() - started;
      };
      const valid = Promise.all([validHttp(), validWs()]);
      valid.catch(() => undefined); // awaited below, after the fuzzers stop
      // Whatever happens to the fuzzers, the valid senders are stopped and awaited before the server is.
      const fuzzed = await Promise.allSettled([
        ...Array.from({ length: HTTP_WORKERS }, (_, i) => httpWorker(new Rng(SEED + i))),
        ...Array.from({ length: WS_WORKERS }, (_, i) => wsWorker(new Rng(SEED + 1_000 + i))),
      ]);
      fuzzing = false;
      await valid;
      for (const outcome of fuzzed) if (outcome.status === 'rejected') throw outcome.reason;
      for (const [uid, text] of unknown) await replay(f, uid, text);
      t.diagnostic(
        `${httpCount} requests in ${took.http} ms, ${frameCount} frames in ${took.ws} ms; ${unknown.length} replayed`,
      );
      assert.deepEqual(f.ledger.problems, [], 'every answer is documented');

      for (const [uid, ids] of expected) {
        for (const device of devices.get(uid) ?? []) {
          const got = () => new Set(device.pending('message').map((fr) => (fr.message as { id: string }).id));
          await waitFor(
            `all valid messages on a device of ${uid}`,
            () => [...ids].every((id) => got().has(id)),
            15_000,
          );
        }
      }

      // Conversations a fuzz user is in, found through the API, plus every target the fuzzer wrote.
      for (const uid of users) {
        const list = await courier.http<{ conversations: { id: string }[] }>(
          'GET',
          `/v1/users/${uid}/conversations?limit=100`,
        );
        for (const c of list.json.conversations ?? []) f.ledger.touched.add(c.id);
      }
      let stored = 0;
      for (const conversation of f.ledger.touched) {
        const ids = await storedIds(courier, conversation);
        stored += ids.size;
        assert.deepEqual(
          [...ids].sort(),
          [...(f.ledger.accepted.get(conversation) ?? [])].sort(),
          `stored = accepted in ${conversation}`,
        );
      }
      t.diagnostic(
        `${f.ledger.touched.size} conversations checked, ${stored} fuzz messages stored, all acknowledged`,
      );
      t.diagnostic(
        [...f.ledger.seen]
          .sort()
          .map(([what, n]) => `${what}: ${n}`)
          .join(', '),
      );
      assert.equal((await courier.http('GET', '/healthz')).status, 200);
    } finally {
      await courier.stop();
    }
  });
});
