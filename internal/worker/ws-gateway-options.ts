// Options of the WebSocket gateway: defaults, units, and the checks that stop a worker at construction with
// the name of the bad option (as ws does for its own options).

export interface WsGatewayOptions {
  workerId: string; // value of `worker` in registry entries and the welcome frame
  path?: string; // upgrade path; other paths get 404 (default '/ws')
  ackTimeoutMs?: number; // resend after this long without an ACK (default 18_000)
  ackRetries?: number; // resends before closing with 4008 (default 3)
  heartbeatSeconds?: number; // ping after this much read silence, cut after as much again (default 30)
  maxFrameBytes?: number; // larger client frames close with 1009 (default 65_536)
  maxPendingAcks?: number; // un-ACKed messages per connection before it is closed as slow (default 1_000)
  tickMs?: number; // timer wheel resolution (default 100)
  refreshMs?: number; // period of the registry refresh pass (default 60_000; keep ≤ registry ttl / 3)
  handshakeTimeoutMs?: number; // token + admission checks slower than this are refused with 503 (default 10_000)
  maxFramesPerSecond?: number; // client frames refilled per second; 0 = no cap (default 100)
  frameBurst?: number; // client frames allowed at once (default 200)
  maxConnections?: number; // sockets held + handshakes in progress before upgrades get 503 (default Infinity)
}

export type ResolvedGatewayOptions = Required<WsGatewayOptions>;

const DEFAULTS = {
  path: '/ws',
  ackTimeoutMs: 18_000,
  ackRetries: 3,
  heartbeatSeconds: 30,
  maxFrameBytes: 65_536,
  maxPendingAcks: 1_000,
  tickMs: 100,
  refreshMs: 60_000,
  handshakeTimeoutMs: 10_000,
  maxFramesPerSecond: 100,
  frameBurst: 200,
  maxConnections: Infinity,
};

/** Lets a caller pass `{ path: undefined }` and still get the default. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function resolveGatewayOptions(options: WsGatewayOptions): ResolvedGatewayOptions {
  const o = { ...DEFAULTS, ...withoutUndefined(options) };
  const workerId = o.workerId;
  if (!workerId) throw new RangeError('ws gateway: workerId is required');
  if (!o.path.startsWith('/')) {
    throw new RangeError(`ws gateway: path must start with '/' (got "${o.path}")`);
  }
  const positive = [
    'ackTimeoutMs',
    'heartbeatSeconds',
    'maxFrameBytes',
    'tickMs',
    'refreshMs',
    'handshakeTimeoutMs',
  ] as const;
  for (const key of positive) {
    if (!(o[key] > 0)) throw new RangeError(`ws gateway: ${key} must be positive (got ${o[key]})`);
  }
  if (!Number.isInteger(o.ackRetries) || o.ackRetries < 0) {
    throw new RangeError(`ws gateway: ackRetries must be an integer ≥ 0 (got ${o.ackRetries})`);
  }
  if (!Number.isInteger(o.maxPendingAcks) || o.maxPendingAcks < 1) {
    throw new RangeError(`ws gateway: maxPendingAcks must be an integer ≥ 1 (got ${o.maxPendingAcks})`);
  }
  if (!(o.maxFramesPerSecond >= 0) || !Number.isInteger(o.frameBurst) || o.frameBurst < 1) {
    throw new RangeError(
      `ws gateway: maxFramesPerSecond must be ≥ 0 and frameBurst an integer ≥ 1 (got ${o.maxFramesPerSecond}, ${o.frameBurst})`,
    );
  }
  const cap = o.maxConnections;
  if (cap !== Infinity && (!Number.isInteger(cap) || cap < 1)) {
    throw new RangeError(`ws gateway: maxConnections must be an integer ≥ 1 or Infinity (got ${cap})`);
  }
  return { ...o, workerId };
}
