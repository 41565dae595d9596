// The end-of-run check of the chaos and rolling-restart tests, against the promise of issue 5: every message
// that got a 200 / `sent` is in the store (once), every receiver device that ends connected shows every such
// message exactly once after dedupe by id, and each conversation's messages appear in seq order.
import type { Message } from '../../internal/client/index.js';
import type { LocalCluster } from '../support/cluster.js';
import { waitFor } from '../support/servers.js';
import type { Device } from './devices.js';
import { liveBusiness } from './devices.js';
import type { Traffic } from './traffic.js';

export interface Report {
  sent: number; // sends started, one per clientMsgId
  accepted: number; // answered 200 / `sent`
  unanswered: number; // given up on without an answer (allowed; each is stored at most once)
  httpRetries: number; // HTTP requests repeated with the same clientMsgId after a 503 or a network error
  stored: number; // messages in the store in the conversations of the run
  notStored: number; // accepted but missing from the store (must be 0)
  storedTwice: number; // clientMsgIds stored more than once (must be 0)
  devices: number; // receiver devices
  devicesConnected: number; // of which ended connected (the ones the delivery check applies to)
  expected: number; // (connected device, accepted message to its user) pairs
  delivered: number; // of which the SDK handed to the app
  lost: number; // expected − delivered (must be 0)
  duplicatesSuppressed: number; // copies that arrived on the wire and the SDK dropped by id
  duplicatesDelivered: number; // copies the app saw twice (must be 0)
  orderViolations: number; // a message handed to the app after a higher seq of its conversation (must be 0)
  problems: string[]; // contract breaks seen by the senders, and samples of each violation
}

/** Pages through a conversation's history on the business API (with the API key). */
async function history(cluster: LocalCluster, conversation: string): Promise<Message[]> {
  const out: Message[] = [];
  for (let after = 0; ;) {
    const path = `/v1/conversations/${encodeURIComponent(conversation)}/messages?after=${after}&limit=500`;
    let page: { status: number; json: { messages: Message[]; hasMore: boolean } } | undefined;
    for (const base of liveBusiness(cluster)()) {
      page = await cluster
        .http<{ messages: Message[]; hasMore: boolean }>(base, 'GET', path)
        .catch(() => undefined);
      if (page?.status === 200) break;
    }
    if (page?.status !== 200) throw new Error(`history of ${conversation}: ${JSON.stringify(page?.json)}`);
    out.push(...page.json.messages);
    const last = page.json.messages.at(-1);
    if (!page.json.hasMore || !last) return out;
    after = last.seq;
  }
}

const connected = (d: Device) => d.state === 'open';

/**
 * Waits (at most `settleMs`) for every connected device to catch up, then counts. Call after traffic.stop():
 * the ledger is final then.
 */
export async function verify(cluster: LocalCluster, traffic: Traffic, settleMs = 30_000): Promise<Report> {
  const accepted = [...traffic.accepted.values()];
  const problems = [...traffic.problems];
  const sample = (what: string) => {
    if (problems.length < 40) problems.push(what);
  };
  const byUid = new Map<string, string[]>();
  for (const a of accepted) {
    for (const uid of a.to) byUid.set(uid, [...(byUid.get(uid) ?? []), a.id]);
  }
  const missingOf = (d: Device) => {
    const have = new Set(d.emitted.map((m) => m.id));
    return (byUid.get(d.uid) ?? []).filter((id) => !have.has(id));
  };
  // Devices catch up by themselves (pushes, syncs after a reconnect or a seq gap): wait, bounded.
  await waitFor(
    'every connected device to show every accepted message',
    () => traffic.receivers.every((d) => !connected(d) || missingOf(d).length === 0),
    settleMs,
    100,
  ).catch(() => undefined); // what is still missing is counted as lost below

  const stored = new Map<string, Message>();
  const clientMsgIds = new Map<string, number>(); // content is the clientMsgId in this traffic
  for (const conversation of new Set(accepted.map((a) => a.conversation))) {
    for (const m of await history(cluster, conversation)) {
      stored.set(m.id, m);
      clientMsgIds.set(String(m.content), (clientMsgIds.get(String(m.content)) ?? 0) + 1);
    }
  }
  let notStored = 0;
  for (const a of accepted) {
    const m = stored.get(a.id);
    if (m && m.conversation === a.conversation && m.seq === a.seq) continue;
    notStored++;
    sample(`accepted ${a.id} (${a.clientMsgId}, ${a.via}) is not in the store as answered`);
  }
  const storedTwice = [...clientMsgIds.values()].filter((n) => n > 1).length;

  let expected = 0;
  let delivered = 0;
  let duplicatesSuppressed = 0;
  let duplicatesDelivered = 0;
  let orderViolations = 0;
  for (const d of traffic.receivers) {
    const counts = new Map<string, number>();
    for (const m of d.emitted) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
    for (const n of counts.values()) if (n > 1) duplicatesDelivered += n - 1;
    for (const [id, n] of d.arrivals) duplicatesSuppressed += Math.max(0, n - (counts.get(id) ?? 0));
    const lastSeq = new Map<string, number>();
    for (const m of d.emitted) {
      if (m.seq <= (lastSeq.get(m.conversation) ?? 0)) {
        orderViolations++;
        sample(`${d.name}: ${m.conversation} seq ${m.seq} after ${lastSeq.get(m.conversation)}`);
      }
      lastSeq.set(m.conversation, Math.max(m.seq, lastSeq.get(m.conversation) ?? 0));
    }
    if (!connected(d)) continue;
    const mine = byUid.get(d.uid) ?? [];
    const missing = missingOf(d);
    expected += mine.length;
    delivered += mine.length - missing.length;
    for (const id of missing.slice(0, 3)) {
      const a = traffic.accepted.get(id);
      sample(
        `${d.name} (on ${d.worker}, workers ${d.workers.join('→')}) lacks ${id} ${a?.conversation}#${a?.seq}`,
      );
    }
  }
  for (const d of traffic.devices) for (const e of d.errors.slice(0, 3)) sample(`${d.name}: ${e}`);
  return {
    sent: traffic.counts.sent,
    accepted: accepted.length,
    unanswered: traffic.counts.unanswered,
    httpRetries: traffic.counts.httpRetries,
    stored: stored.size,
    notStored,
    storedTwice,
    devices: traffic.receivers.length,
    devicesConnected: traffic.receivers.filter(connected).length,
    expected,
    delivered,
    lost: expected - delivered,
    duplicatesSuppressed,
    duplicatesDelivered,
    orderViolations,
    problems,
  };
}

/** One line per count, for test diagnostics and the chaos script. */
export function formatReport(r: Report): string {
  const { problems, ...counts } = r;
  const lines = Object.entries(counts).map(([k, v]) => `${k.padEnd(22)} ${v}`);
  return [...lines, ...problems.map((p) => `problem: ${p}`)].join('\n');
}
