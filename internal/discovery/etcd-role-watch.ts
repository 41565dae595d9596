import { ClientClosedError, type Etcd3, type IWatchResponse, type Watcher } from 'etcd3';
import type { Logger } from '../log/logger.js';
import type { NodeOf, NodeRole } from './discovery.js';

const RESYNC_MIN_MS = 100;
const RESYNC_MAX_MS = 2_000; // short: etcd3 already holds a failed host back for 5 s (circuit breaker)

/**
 * A local copy of one role's keys, fed by an etcd watch and handed to `onChange` as a full list.
 * etcd3 reconnects a broken watch by itself from the last revision it saw, but that revision means nothing
 * to an etcd that lost its data (and may be compacted), so on any disconnect or error we drop the watcher,
 * re-read the whole range and watch again from the revision of that read: nothing is missed either way.
 */
export class RoleWatch<R extends NodeRole> {
  private readonly nodes = new Map<string, NodeOf<R>>(); // key: node id
  private watcher: Watcher | null = null;
  private stopped = false;
  private lastEmitted: string | null = null;
  private resyncing: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private sleepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly decode: (id: string, text: string) => NodeOf<R> | null,
    private readonly onChange: (nodes: NodeOf<R>[]) => void,
    private readonly log: Logger,
  ) {}

  /** The first snapshot and watch; rejects when etcd cannot be read, so start-up fails loudly. */
  start(): Promise<void> {
    return this.sync();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.dropWatcher();
  }

  private async sync(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    if (this.stopped) return;
    this.nodes.clear();
    for (const kv of res.kvs) this.apply('Put', kv.key, kv.value);
    this.emit();
    const watcher = this.client
      .watch()
      .prefix(this.prefix)
      .startRevision((BigInt(res.header.revision) + 1n).toString())
      .watcher();
    this.watcher = watcher;
    watcher.on('data', (data: IWatchResponse) => {
      if (watcher !== this.watcher) return;
      for (const ev of data.events) this.apply(ev.type, ev.kv.key, ev.kv.value);
      this.emit(); // once per batch of events, not once per key
    });
    watcher.on('disconnected', (err: Error) => this.resync(watcher, err));
    // Also a canceled watch, e.g. when its start revision was compacted away. Without this listener an
    // `error` event would throw.
    watcher.on('error', (err: Error) => this.resync(watcher, err));
  }

  private apply(type: string, key: Buffer, value: Buffer): void {
    const id = key.toString().slice(this.prefix.length);
    if (type === 'Delete') {
      this.nodes.delete(id);
      return;
    }
    const node = this.decode(id, value.toString());
    // A value that no longer parses drops the node: routing to a half-known node is worse than not at all.
    if (node) this.nodes.set(id, node);
    else this.nodes.delete(id);
  }

  private emit(): void {
    const nodes = [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
    const text = JSON.stringify(nodes);
    if (text === this.lastEmitted) return;
    this.lastEmitted = text;
    try {
      this.onChange(nodes);
    } catch (err) {
      // Thrown from inside etcd3's stream handler it would become an uncaught exception.
      this.log.error({ err }, 'discovery watch listener threw');
    }
  }

  private resync(from: Watcher, err: Error): void {
    if (from !== this.watcher || this.stopped || this.resyncing) return;
    this.log.warn({ err }, 'etcd watch interrupted; re-reading the range');
    this.dropWatcher();
    this.resyncing = this.resyncLoop()
      .catch((e: unknown) => this.log.error({ err: e }, 'etcd watch resync stopped'))
      .finally(() => (this.resyncing = null));
  }

  private async resyncLoop(): Promise<void> {
    let delay = RESYNC_MIN_MS;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await this.sync();
        if (!this.stopped) this.log.info({ attempt, nodes: this.nodes.size }, 'etcd watch resynced');
        return;
      } catch (err) {
        if (err instanceof ClientClosedError) {
          this.log.warn('etcd client closed; watch stopped');
          return;
        }
        this.log.warn({ err, attempt, retryInMs: delay }, 'etcd watch resync failed');
        await this.sleep(delay);
        delay = Math.min(delay * 2, RESYNC_MAX_MS);
      }
    }
  }

  private dropWatcher(): void {
    const watcher = this.watcher;
    this.watcher = null;
    watcher?.cancel().catch((err: unknown) => this.log.warn({ err }, 'etcd watch cancel failed'));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}
