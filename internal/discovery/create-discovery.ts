import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Discovery, NodeInfo } from './discovery.js';
import { EtcdDiscovery } from './etcd-discovery.js';
import { StaticDiscovery } from './static-discovery.js';

/**
 * The discovery of `discovery.driver`. For `static`, `shared` (the all-in-one's single instance, which all
 * its roles register in) wins over the fixed lists of `discovery.static`; the etcd discovery creates and
 * owns its own client.
 */
export function createDiscovery(
  options: Config['discovery'],
  logger: Logger,
  shared?: StaticDiscovery,
): Discovery {
  switch (options.driver) {
    case 'static': {
      if (shared) return shared;
      const { workers, dispatchers, business } = options.static;
      const nodes: NodeInfo[] = [
        // Fixed workers carry no live count: all start equal for least-loaded choice.
        ...workers.map((w) => ({ role: 'worker' as const, ...w, conns: 0, startedAt: 0 })),
        ...dispatchers.map((d) => ({ role: 'dispatcher' as const, ...d })),
        ...business.map((b) => ({ role: 'business' as const, ...b })),
      ];
      return new StaticDiscovery(nodes);
    }
    case 'etcd':
      return new EtcdDiscovery({ ...options.etcd, logger });
  }
}
