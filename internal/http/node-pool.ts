import type { Discovery, NodeOf } from '../discovery/discovery.js';
import { CourierError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { InternalCallError, postJson } from './internal-client.js';

type HttpRole = 'dispatcher' | 'business';

/**
 * How long the last non-empty list stands in for an empty one. etcd restarted empty lists no node until each
 * registers again (about a second) although they all still run; a message stored meanwhile would otherwise
 * reach no dispatcher and its receivers' open devices would never be told (found by the chaos test). A node
 * in that list that really is gone fails fast (connection refused), as any dead node does.
 */
const LAST_KNOWN_MS = 30_000;

/**
 * The live nodes of one role that this node calls over HTTP: calls rotate round-robin and fail over to the
 * next node on a network error, timeout or 5xx; a 4xx is the caller's fault and is not retried elsewhere.
 */
export class NodePool<R extends HttpRole> {
  private nodes: NodeOf<R>[] = [];
  private lastKnown: { nodes: NodeOf<R>[]; until: number } | undefined; // see LAST_KNOWN_MS
  private turn = 0;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly role: R,
    private readonly options: { key: string; timeoutMs: number },
    private readonly discovery: Discovery,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.stopWatching = await this.discovery.watch(this.role, (nodes) => {
      if (nodes.length > 0) this.lastKnown = undefined;
      else if (this.nodes.length > 0)
        this.lastKnown = { nodes: this.nodes, until: Date.now() + LAST_KNOWN_MS };
      this.nodes = nodes;
    });
  }

  get size(): number {
    return this.nodes.length;
  }

  /** `requestId` goes out as `x-request-id`, so the called node's logs name the caller's request. */
  async post<T>(path: string, body: unknown, requestId?: string): Promise<T> {
    let nodes = this.nodes;
    if (nodes.length === 0 && this.lastKnown && Date.now() < this.lastKnown.until)
      nodes = this.lastKnown.nodes;
    if (nodes.length === 0) throw new CourierError('unavailable', `no ${this.role} node is available`);
    let lastError: unknown;
    // One turn per call, and the retries walk on from it: with the shared counter read per attempt, calls
    // running at the same time moved it between one call's attempts, and a retry could land on the node that
    // had just refused (seen in the drain test: 503 from a draining dispatcher, then the same dispatcher
    // again, and the message was left to the receiver's next sync).
    const first = this.turn++ & 0x7fffffff;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[(first + i) % nodes.length] as { id: string; http: string };
      try {
        const options = requestId === undefined ? this.options : { ...this.options, requestId };
        return await postJson<T>(`${node.http}${path}`, body, options);
      } catch (err) {
        if (err instanceof InternalCallError && !err.retryable) throw err.toCourierError();
        lastError = err;
        this.logger.warn(
          { node: node.id, role: this.role, path, requestId, err: errorMessage(err) },
          'internal call failed',
        );
      }
    }
    throw new CourierError('unavailable', `no ${this.role} node answered`, undefined, { cause: lastError });
  }

  close(): void {
    this.stopWatching?.();
  }
}
