// Steady traffic through a LocalCluster for the chaos and rolling-restart tests: HTTP senders (the API key,
// one sequential loop each, retried on 503 / network errors with the same clientMsgId as DESIGN §3 says a
// caller may), WebSocket senders (the client SDK's `send`, which retries with one clientMsgId by itself), and
// receivers with several devices each, connected through /v1/gateway. Every answered send is written down
// in the ledger that verify.ts checks against the store and the devices.
import { setTimeout as pause } from 'node:timers/promises';
import type { Message } from '../../internal/client/index.js';
import type { LocalCluster } from '../support/cluster.js';
import { uniqueId } from '../support/servers.js';
import { Device, liveBusiness } from './devices.js';

export interface TrafficOptions {
  receivers?: number; // receiving users (default 6)
  devices?: number; // devices per receiving user (default 2)
  httpSenders?: number; // sequential HTTP sender loops (default 3)
  wsSenders?: number; // SDK senders (default 2)
  intervalMs?: number; // pause between two messages of one sender (default 150)
  wsInFlight?: number; // unanswered SDK sends allowed per WebSocket sender (default 3)
  retryForMs?: number; // an HTTP send is retried this long before it counts as unanswered (default 30_000)
}

/** A send that got its 200 / `sent`: it must be stored and reach every device of its receiver. */
export interface Accepted {
  id: string;
  clientMsgId: string;
  conversation: string;
  seq: number;
  to: string[];
  via: 'http' | 'ws';
}

export interface SendCounts {
  sent: number; // sends started (each clientMsgId once)
  httpAttempts: number; // HTTP requests made, retries included
  httpRetries: number; // of which were retries (503, 429, network error, timeout)
  unanswered: number; // sends given up on without a 200 / `sent` (their message may still be stored)
}

export class Traffic {
  readonly accepted = new Map<string, Accepted>(); // by message id
  readonly counts: SendCounts = { sent: 0, httpAttempts: 0, httpRetries: 0, unanswered: 0 };
  /** Answers that break the contract (a 4xx/5xx other than 503/429 for a valid send, a rejected SDK send). */
  readonly problems: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly prefix = uniqueId('x');
  private readonly o: Required<TrafficOptions>;

  private constructor(
    private readonly cluster: LocalCluster,
    readonly receivers: Device[],
    readonly wsSenders: Device[],
    options: Required<TrafficOptions>,
  ) {
    this.o = options;
  }

  /** Connects the receivers' devices and the SDK senders (through /v1/gateway), without sending yet. */
  static async connect(cluster: LocalCluster, options: TrafficOptions = {}): Promise<Traffic> {
    const o: Required<TrafficOptions> = {
      receivers: 6,
      devices: 2,
      httpSenders: 3,
      wsSenders: 2,
      intervalMs: 150,
      wsInFlight: 3,
      retryForMs: 30_000,
      ...options,
    };
    const prefix = uniqueId('u');
    const receivers: Device[] = [];
    // One at a time: /v1/gateway rotates among equally loaded workers, so devices spread over all of them.
    for (let r = 0; r < o.receivers; r++) {
      for (let d = 0; d < o.devices; d++) {
        receivers.push(await Device.open(cluster, `${prefix}r${r}`, `${prefix}r${r}/d${d}`));
      }
    }
    const senders: Device[] = [];
    for (let w = 0; w < o.wsSenders; w++) senders.push(await Device.open(cluster, `${prefix}w${w}`, `w${w}`));
    return new Traffic(cluster, receivers, senders, o);
  }

  get receiverUids(): string[] {
    return [...new Set(this.receivers.map((d) => d.uid))];
  }

  get devices(): Device[] {
    return [...this.receivers, ...this.wsSenders];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.httpSenders; i++) this.loops.push(this.httpLoop(i));
    this.wsSenders.forEach((device, i) => this.loops.push(this.wsLoop(device, i)));
  }

  /** Stops starting sends and waits for those started to be answered (or given up on). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  close(): void {
    for (const device of this.devices) device.close();
  }

  /**
   * One message to every receiver, each in a conversation of its own that gets nothing after it, so a
   * device that misses the push has no later seq to notice the gap by (see faults.ts).
   */
  async probe(tag: string): Promise<void> {
    const from = `${this.prefix}p-${tag}`;
    await Promise.all(this.receiverUids.map((to) => this.sendHttp(from, to, `${from}-${to}`)));
  }

  /** Each sender writes to the receivers in turn, so every (sender, receiver) conversation keeps moving. */
  private receiverFor(sender: number, n: number): string {
    const uids = this.receiverUids;
    return uids[(sender + n) % uids.length] as string;
  }

  private async httpLoop(i: number): Promise<void> {
    const from = `${this.prefix}h${i}`;
    for (let n = 0; this.running; n++) {
      await this.sendHttp(from, this.receiverFor(i, n), `${from}-${n}`);
      await pause(this.o.intervalMs);
    }
  }

  private async sendHttp(from: string, to: string, clientMsgId: string): Promise<void> {
    this.counts.sent++;
    const body = JSON.stringify({ from, to, type: 'text', content: clientMsgId, clientMsgId });
    const headers = {
      'content-type': 'application/json',
      authorization: `Bearer ${this.cluster.secrets.apiKey}`,
    };
    const giveUpAt = Date.now() + this.o.retryForMs;
    for (let attempt = 0; ; attempt++) {
      const bases = liveBusiness(this.cluster)();
      const base = bases[attempt % Math.max(1, bases.length)];
      this.counts.httpAttempts++;
      if (attempt > 0) this.counts.httpRetries++;
      let status = 0;
      let text = '';
      try {
        const res = await fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        text = String(err); // refused, reset or timed out: nothing is known, so ask again
      }
      if (status === 200) {
        const r = JSON.parse(text) as Omit<Accepted, 'clientMsgId' | 'via'>;
        this.accept({ id: r.id, conversation: r.conversation, seq: r.seq, to: r.to }, clientMsgId, 'http');
        return;
      }
      if (status !== 0 && status !== 503 && status !== 429) {
        this.problems.push(`POST /v1/messages ${clientMsgId} → ${status} ${text.slice(0, 200)}`);
        return;
      }
      if (Date.now() >= giveUpAt) {
        this.counts.unanswered++;
        return;
      }
      await pause(Math.min(1_000, 100 * 2 ** Math.min(attempt, 4)));
    }
  }

  private async wsLoop(device: Device, i: number): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let abandoned = false; // past the bound below: answers that come later are not counted
    for (let n = 0; this.running; n++) {
      const to = this.receiverFor(i + this.o.httpSenders, n);
      const clientMsgId = `${device.uid}-${n}`;
      this.counts.sent++;
      const sending: Promise<void> = device.client
        .send({ to }, 'text', clientMsgId, { clientMsgId })
        .then(
          (m: Message) => {
            if (!abandoned) this.accept(m, clientMsgId, 'ws');
          },
          (err: unknown) => {
            if (abandoned) return;
            this.counts.unanswered++;
            this.problems.push(`SDK send ${clientMsgId} rejected: ${String(err)}`);
          },
        )
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      // The SDK retries by itself (reconnects, timeouts); only the number waiting is bounded here.
      while (inFlight.size >= this.o.wsInFlight) await Promise.race(inFlight);
      await pause(this.o.intervalMs);
    }
    // Sends still unanswered are left to the SDK for a bounded while, then counted as unanswered.
    const bound = new AbortController(); // so the timer does not keep the process alive once all are in
    const settled = await Promise.race([
      Promise.all(inFlight).then(() => true),
      pause(this.o.retryForMs, false, { signal: bound.signal }).catch(() => true),
    ]);
    bound.abort();
    if (!settled) {
      abandoned = true;
      this.counts.unanswered += inFlight.size;
    }
  }

  private accept(
    m: Pick<Message, 'id' | 'conversation' | 'seq' | 'to'>,
    clientMsgId: string,
    via: Accepted['via'],
  ) {
    const { id, conversation, seq, to } = m;
    const known = this.accepted.get(id);
    if (known && known.clientMsgId !== clientMsgId) {
      this.problems.push(`${id} answered for both ${known.clientMsgId} and ${clientMsgId}`);
    }
    this.accepted.set(id, { id, clientMsgId, conversation, seq, to, via });
  }
}
