// No container engine runs here, so the deployment files are checked the way they can be: they parse, every
// COURIER_* variable they set is a real config key, the configs they build pass validation, the commands
// name real entry points, and the pods outlive the drain.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { buildConfig, envKeys } from '../../internal/config/load.js';

type Doc = Record<string, unknown>;
const k8sFiles = readdirSync('deploy/k8s').filter((f) => f.endsWith('.yaml'));
const k8sDocs: Doc[] = k8sFiles.flatMap((f) =>
  parseAllDocuments(readFileSync(`deploy/k8s/${f}`, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${f}: ${d.errors.join('; ')}`);
    return d.toJS() as Doc;
  }),
);
const compose = parse(readFileSync('deploy/docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Doc>;
};
const known = envKeys();

const get = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Doc | undefined)?.[k], o);
const entryPoint = (args: unknown[]) => {
  const main = String(args.find((a) => String(a).startsWith('dist/cmd/')));
  return main.replace(/^dist\//, '').replace(/\.js$/, '.ts');
};

describe('deployment files', () => {
  it('compose services set only real config keys and build valid configs', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const command = service.command as string[] | undefined;
      if (!command?.some((c) => c.startsWith('dist/cmd/'))) continue;
      assert.ok(existsSync(entryPoint(command)), `${name}: ${command.join(' ')}`);
      const env = service.environment as Record<string, string>;
      for (const key of Object.keys(env)) assert.ok(known.has(key), `${name}: ${key} is not a config key`);
      const file = command[command.indexOf('--config') + 1] as string;
      assert.doesNotThrow(() => buildConfig(parse(readFileSync(file, 'utf8')), env), name);
    }
  });

  it('kubernetes manifests parse, use real keys and a valid shared config', () => {
    const configMap = k8sDocs.find((d) => d.kind === 'ConfigMap');
    const shared = parse(String(get(configMap, 'data', 'courier.yaml')));
    const secret = k8sDocs.find((d) => d.kind === 'Secret');
    const secretEnv = get(secret, 'stringData') as Record<string, string>;
    for (const key of Object.keys(secretEnv)) assert.ok(known.has(key), `secret: ${key}`);

    const deployments = k8sDocs.filter((d) => d.kind === 'Deployment');
    assert.deepEqual(deployments.map((d) => get(d, 'metadata', 'name')).sort(), [
      'courier-business',
      'courier-dispatcher',
      'courier-worker',
    ]);
    for (const d of deployments) {
      const spec = get(d, 'spec', 'template', 'spec') as Doc;
      const container = (spec.containers as Doc[])[0] as Doc;
      assert.ok(existsSync(entryPoint(container.args as unknown[])), String(container.args));
      const env = Object.fromEntries(
        (container.env as { name: string; value?: string }[])
          .filter((e) => e.value !== undefined)
          .map((e) => [e.name, e.value as string]),
      );
      for (const key of Object.keys(env).filter((k) => k.startsWith('COURIER_')))
        assert.ok(known.has(key), key);
      const config = buildConfig(shared, { ...secretEnv, ...env, COURIER_NODE_ID: 'pod-0' });
      assert.ok(
        Number(spec.terminationGracePeriodSeconds) > config.shutdown.graceSeconds,
        'the pod outlives its drain',
      );
      assert.equal(get(container, 'readinessProbe', 'httpGet', 'path'), '/readyz');
      assert.equal(get(container, 'livenessProbe', 'httpGet', 'path'), '/healthz');
    }
    const headless = k8sDocs.find(
      (d) => d.kind === 'Service' && get(d, 'metadata', 'name') === 'courier-worker',
    );
    assert.equal(get(headless, 'spec', 'clusterIP'), 'None');
    assert.equal(k8sDocs.filter((d) => d.kind === 'PodDisruptionBudget').length, 3);
  });

  it('the Dockerfile runs as a non-root user from a multi-stage build', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    assert.equal((dockerfile.match(/^FROM /gm) ?? []).length, 2);
    assert.match(dockerfile, /^USER node$/m);
    for (const copied of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) {
      const path = copied[1] as string;
      if (path !== 'web') assert.ok(existsSync(path), `COPY ${path}`);
    }
  });
});
