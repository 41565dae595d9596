// The sending half of a `push` generator: one scheduled event becomes one POST /v1/messages, one
// POST /v1/messages/batch or one WebSocket `send` frame. Sends are fire-and-forget from the scheduler's point
// of view (open loop); answers are counted as they come. A bounded number of requests may be in flight: past
// it (counted in messages), messages are counted as "skipped: backlog" instead of queueing without limit.
import type { LoadConn } from './clients.js';
import { errorReason, type HttpClient } from './http-client.js';
import { bump, type PushJob, type PushTick } from './ipc.js';

export interface Outgoing {
  key: number;
  to: string;
  receiver: number; // receiver index, for the loss check
  t: number; // intended send time, epoch ms
}

interface BatchAnswer {
  results?: ({ error?: { code?: string } } | Record<string, unknown>)[];
}

export class Sender {
  inflight = 0;
  private readonly keys: number[] = [];
  private readonly to: number[] = [];
  private readonly wsPending = new Map<string, Outgoing>();
  private readonly senderUids: string[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly job: PushJob,
    private readonly http: HttpClient,
    private readonly senderTokens: string[],
    private readonly conns: (LoadConn | undefined)[],
    private readonly senderOffset: number, // local index of the first ws sender connection
    private readonly stats: () => PushTick,
    private readonly second: () => number, // the current second since the run's start
  ) {
    for (let s = job.proc; s < job.senders; s += job.procs) this.senderUids.push(`${job.uidPrefix}s${s}`);
    if (this.senderUids.length === 0)
      throw new RangeError(`generator ${job.proc} has no sender (need --senders ≥ --procs)`);
  }

  send(event: number, batch: Outgoing[]): void {
    const stats = this.stats();
    stats.sent += batch.length;
    bump(stats, this.second(), 0, batch.length);
    // Counted in messages, so a batch of 100 weighs as much as 100 single requests.
    if (this.inflight + batch.length > this.job.maxInflight) {
      this.fail('skipped: backlog', batch.length);
      return;
    }
    const s = event % this.senderUids.length;
    const from = this.senderUids[s] as string;
    const auth = this.job.target.apiKey || (this.senderTokens[s] ?? '');
    if (this.job.mode === 'ws') return this.sendWs(s, batch);
    this.inflight += batch.length;
    const body = (m: Outgoing) => ({ from, to: m.to, type: 'custom', content: { k: m.key, t: m.t } });
    const request =
      this.job.mode === 'batch'
        ? this.http.send('POST', '/v1/messages/batch', { messages: batch.map(body) }, auth)
        : this.http.send('POST', '/v1/messages', body(batch[0] as Outgoing), auth);
    request
      .then(
        (res) => {
          if (res.status !== 200) return this.fail(`http ${res.status}`, batch.length);
          if (this.job.mode !== 'batch') return this.accept(batch[0] as Outgoing);
          const results = (JSON.parse(res.body) as BatchAnswer).results ?? [];
          batch.forEach((m, i) => {
            const r = results[i];
            const code =
              r && typeof r.error === 'object' && r.error ? (r.error as { code?: string }).code : undefined;
            if (!r) this.fail('batch: no result', 1);
            else if (r.error) this.fail(`batch item ${code ?? 'error'}`, 1);
            else this.accept(m);
          });
        },
        (err: unknown) => this.fail(errorReason(err), batch.length),
      )
      .catch((err: unknown) => this.fail(`bad answer: ${(err as Error).message.slice(0, 40)}`, batch.length))
      .finally(() => this.done(batch.length));
  }

  private sendWs(s: number, batch: Outgoing[]): void {
    const conn = this.conns[this.senderOffset + s];
    for (const m of batch) {
      if (!conn) {
        this.fail('sender not connected', 1);
        continue;
      }
      this.inflight++;
      this.wsPending.set(String(m.key), m);
      conn.send({ clientMsgId: String(m.key), to: m.to, content: { k: m.key, t: m.t } });
    }
  }

  /** A `sent` (accepted) or `error` frame for one of our ws sends. */
  answered(clientMsgId: string, error?: string): void {
    const m = this.wsPending.get(clientMsgId);
    if (!m) return; // not ours, or already given up on
    this.wsPending.delete(clientMsgId);
    if (error) this.fail(error, 1);
    else this.accept(m);
    this.done(1);
  }

  private accept(m: Outgoing): void {
    this.keys.push(m.key);
    this.to.push(m.receiver);
    const stats = this.stats();
    stats.accepted++;
    bump(stats, this.second(), 1, 1);
  }

  private fail(reason: string, n: number): void {
    const failed = this.stats().failed;
    failed[reason] = (failed[reason] ?? 0) + n;
  }

  private done(n: number): void {
    this.inflight -= n;
    if (this.inflight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when every send was answered; after `timeoutMs`, unanswered ws sends count as failed. */
  async idle(timeoutMs = 30_000): Promise<void> {
    if (this.inflight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    if (this.wsPending.size > 0) {
      this.fail('ws: no answer', this.wsPending.size);
      this.inflight -= this.wsPending.size;
      this.wsPending.clear();
    }
  }

  acceptedArrays(): { keys: Float64Array; to: Uint32Array } {
    return { keys: Float64Array.from(this.keys), to: Uint32Array.from(this.to) };
  }
}
