import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import type { InternalAuth } from '../http/internal-auth.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { STATS_PATH, type NodeStats } from '../metrics/node-stats.js';
import { readinessAnswer, type Readiness } from '../node/readiness.js';

// The plain HTTP side of the worker's WebSocket server (upgrades go to the gateway): /healthz, /readyz,
// /metrics, and the stats the admin dashboard reads (internal key). No Express here: the server's job is
// upgrades, and these few paths do not justify a framework on the path every client connects through.

export interface WorkerHttpDeps {
  ready: () => Promise<Readiness>;
  metrics: Metrics;
  stats: () => NodeStats;
  auth: InternalAuth;
  logger: Logger;
}

export function workerHttpHandler(deps: WorkerHttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse) => (err: unknown) => {
    deps.logger.error({ err: errorMessage(err) }, 'worker http request failed');
    if (!res.headersSent) json(res, 500, { error: { code: 'internal', message: 'internal error' } });
    else res.destroy();
  };
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return json(res, 404, { error: { code: 'not_found', message: 'no such endpoint' } });
    }
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz':
        deps.ready().then((state) => {
          const { status, body } = readinessAnswer(state);
          json(res, status, body);
        }, fail(res));
        return;
      case '/metrics':
        deps.metrics.write(res).catch(fail(res));
        return;
      case STATS_PATH:
        if (!deps.auth.accepts(req.headers.authorization)) {
          const message = 'internal endpoint: missing or wrong internal key';
          return json(res, 401, { error: { code: 'unauthorized', message } });
        }
        return json(res, 200, deps.stats());
      default:
        return json(res, 404, { error: { code: 'not_found', message: 'no such endpoint' } });
    }
  };
}
