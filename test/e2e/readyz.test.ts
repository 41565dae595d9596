// GET /readyz on every role (issue 8, DESIGN §3): 503 until the node is registered in discovery, 503 while a
// backend it needs does not answer, 503 while draining, 200 otherwise. Registrations and revocations are held
// at a gate the test opens, so each state is observed for certain rather than raced.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Discovery, NodeInfo, Registration } from '../../internal/discovery/discovery.js';
import type { RoleNode } from '../../internal/node/lifecycle.js';
import type { Registry } from '../../internal/registry/registry.js';
import { TestCourier } from '../support/courier.js';
import { business, dispatcher, roleSet, worker, type RoleSet } from '../support/roles.js';
import { freePort } from '../support/servers.js';

async function readyz(base: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

async function assertNotReady(base: string, reason: string): Promise<void> {
  const { status, body } = await readyz(base);
  assert.equal(status, 503, base);
  assert.equal(body.status, 'not_ready', base);
  assert.equal(body.reason, reason, base);
}

/** A point a call stops at until the test opens it; `reached` resolves when the call got there. */
class Gate {
  private open!: () => void;
  private arrive!: () => void;
  readonly released = new Promise<void>((resolve) => (this.open = resolve));
  readonly reached = new Promise<void>((resolve) => (this.arrive = resolve));
  async pass(): Promise<void> {
    this.arrive();
    await this.released;
  }
  release(): void {
    this.open();
  }
}

/** The shared discovery, with registrations and revocations held at gates and a ping the test controls. */
class HeldDiscovery implements Discovery {
  registerGate: Gate | undefined;
  revokeGate: Gate | undefined;
  answers = true;

  constructor(private readonly inner: Discovery) {}

  async register(node: NodeInfo): Promise<Registration> {
    await this.registerGate?.pass();
    const registration = await this.inner.register(node);
    return {
      update: (next) => registration.update(next),
      revoke: async () => {
        await this.revokeGate?.pass();
        await registration.revoke();
      },
    };
  }
  list: Discovery['list'] = (role) => this.inner.list(role);
  watch: Discovery['watch'] = (role, onChange) => this.inner.watch(role, onChange);
  ping = async () => this.answers;
  close = () => this.inner.close();
}

describe('readyz of the all-in-one', () => {
  let courier: TestCourier;
  before(async () => {
    courier = await TestCourier.start();
  });
  after(() => courier?.stop());

  it('is ready on the business, dispatcher and worker ports', async () => {
    const worker = new URL(courier.wsUrl);
    for (const base of [courier.baseUrl, courier.app.dispatcher.http, `http://${worker.host}`]) {
      const { status, body } = await readyz(base);
      assert.equal(status, 200, base);
      assert.equal(body.status, 'ready');
    }
  });
});

describe('readyz of separate roles', () => {
  let set: RoleSet;
  let discovery: HeldDiscovery;
  let registryAnswers = true;
  let registry: Registry;
  const bases: Record<'business' | 'dispatcher' | 'worker', string> = {
    business: '',
    dispatcher: '',
    worker: '',
  };
  const nodes: Partial<Record<'business' | 'dispatcher' | 'worker', RoleNode>> = {};

  before(async () => {
    const [http, dispatch, ws] = [await freePort(), await freePort(), await freePort()];
    set = await roleSet({
      business: { http: { port: http } },
      dispatcher: { http: { port: dispatch } },
      worker: { ws: { port: ws } },
    });
    bases.business = `http://127.0.0.1:${http}`;
    bases.dispatcher = `http://127.0.0.1:${dispatch}`;
    bases.worker = `http://127.0.0.1:${ws}`;
    discovery = new HeldDiscovery(set.discovery);
    const r = set.registry;
    registry = {
      add: (entries) => r.add(entries),
      remove: (refs) => r.remove(refs),
      lookup: (uids) => r.lookup(uids),
      refresh: (entries) => r.refresh(entries),
      removeWorker: (id, uids) => r.removeWorker(id, uids),
      checkpoint: (id) => r.checkpoint(id),
      ping: async () => registryAnswers,
      close: () => r.close(),
    };
  });
  after(() => set?.stop());

  it('is not ready until registered in discovery, then ready', async () => {
    const starts = {
      worker: () => worker(set, 'ready-worker', { discovery, registry }),
      dispatcher: () => dispatcher(set, 'ready-dispatcher', { discovery, registry }),
      business: () => business(set, 'ready-business', { discovery, registry }),
    };
    for (const role of ['worker', 'dispatcher', 'business'] as const) {
      const gate = (discovery.registerGate = new Gate());
      const starting = starts[role]();
      await gate.reached; // listening, not yet registered
      await assertNotReady(bases[role], 'not registered in discovery');
      gate.release();
      nodes[role] = await starting;
      discovery.registerGate = undefined;
      const { status, body } = await readyz(bases[role]);
      assert.equal(status, 200, role);
      assert.equal(body.status, 'ready');
    }
  });

  it('is not ready while a backend does not answer', async () => {
    registryAnswers = false;
    for (const role of ['worker', 'dispatcher'] as const) {
      await assertNotReady(bases[role], 'registry not answering');
    }
    assert.equal((await readyz(bases.business)).status, 200, 'business does not need the registry');
    registryAnswers = true;
    discovery.answers = false;
    for (const role of ['worker', 'dispatcher', 'business'] as const) {
      await assertNotReady(bases[role], 'discovery not answering');
    }
    discovery.answers = true;
    for (const role of ['worker', 'dispatcher', 'business'] as const) {
      assert.equal((await readyz(bases[role])).status, 200, role);
    }
  });

  it('is not ready while draining', async () => {
    for (const role of ['worker', 'dispatcher', 'business'] as const) {
      const node = nodes[role] as RoleNode;
      const gate = (discovery.revokeGate = new Gate());
      const draining = node.drain(0);
      await gate.reached; // draining has begun; the node still serves until it has left discovery
      await assertNotReady(bases[role], 'draining');
      gate.release();
      await draining;
    }
  });
});
