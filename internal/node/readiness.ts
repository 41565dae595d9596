// GET /readyz of every role (DESIGN §3): ready only once the node is registered in discovery and every
// backend it needs answers, and never while draining, so a load balancer or Kubernetes stops routing here
// before the node leaves and does not route here before it can serve.

export interface Readiness {
  ready: boolean;
  reason?: string;
}

export interface ReadinessChecks {
  draining: () => boolean;
  registered: () => boolean;
  /** Backend name → ping; a ping that rejects or does not answer within timeoutMs counts as down. */
  backends: Record<string, () => Promise<boolean>>;
  timeoutMs?: number; // default 1_000: probes must answer quickly even when a backend hangs
}

export function readiness(checks: ReadinessChecks): () => Promise<Readiness> {
  const timeoutMs = checks.timeoutMs ?? 1_000;
  const names = Object.keys(checks.backends);
  return async () => {
    if (checks.draining()) return { ready: false, reason: 'draining' };
    if (!checks.registered()) return { ready: false, reason: 'not registered in discovery' };
    const answers = await Promise.all(
      names.map((name) => answersWithin(checks.backends[name] as () => Promise<boolean>, timeoutMs)),
    );
    const down = names.filter((_, i) => !answers[i]);
    if (down.length > 0) return { ready: false, reason: `${down.join(', ')} not answering` };
    return { ready: true };
  };
}

async function answersWithin(ping: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([ping().catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The JSON answer and status of /readyz. */
export function readinessAnswer(state: Readiness): { status: number; body: Record<string, string> } {
  return state.ready
    ? { status: 200, body: { status: 'ready' } }
    : { status: 503, body: { status: 'not_ready', reason: state.reason ?? 'not ready' } };
}
