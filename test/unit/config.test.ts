import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError, envKeys, loadConfig } from '../../internal/config/load.js';
import { tempDir } from '../support/servers.js';

describe('config', () => {
  it('fills every default and keeps units in the key names', () => {
    const config = buildConfig({});
    assert.equal(config.worker.ackTimeoutMs, 18_000);
    assert.equal(config.worker.ackRetries, 3);
    assert.equal(config.business.maxMessageBytes, 16_384);
    assert.equal(config.discovery.etcd.leaseTtlSeconds, 10);
    assert.deepEqual(config.auth.apiKeys, [], 'no API key by default outside the all-in-one config');
  });

  it('maps every key to a COURIER_* variable and applies overrides with their types', () => {
    const keys = envKeys();
    assert.deepEqual(keys.get('COURIER_WORKER_ACK_TIMEOUT_MS')?.path, ['worker', 'ackTimeoutMs']);
    assert.deepEqual(keys.get('COURIER_STORE_MYSQL_REPLICA_URL')?.path, ['store', 'mysql', 'replicaUrl']);
    const config = buildConfig(
      { worker: { ackRetries: 1 } },
      {
        COURIER_WORKER_ACK_RETRIES: '5',
        COURIER_BUSINESS_OPEN_MESSAGING: 'true',
        COURIER_AUTH_API_KEYS: '[first-key-0001, second-key-0002]',
        COURIER_REDIS_PASSWORD: '123456',
      },
    );
    assert.equal(config.worker.ackRetries, 5, 'environment wins over the file');
    assert.equal(config.business.openMessaging, true);
    assert.deepEqual(config.auth.apiKeys, ['first-key-0001', 'second-key-0002']);
    assert.equal(config.redis.password, '123456', 'string keys keep digits as text');
  });

  it('names the key of a bad value, from a file or from the environment', () => {
    assert.throws(
      () => buildConfig({ worker: { ackRetries: -1 } }, {}, 'w.yaml'),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /w\.yaml: worker\.ackRetries/);
        return true;
      },
    );
    assert.throws(() => buildConfig({}, { COURIER_WORKER_ACK_RETRIES: 'many' }), /worker\.ackRetries/);
    assert.throws(() => buildConfig({ worker: { ackTimout: 5 } }), /unknown key: ackTimout/);
    assert.throws(() => buildConfig({ registry: { driver: 'mongo' } }), /registry\.driver/);
    assert.throws(() => buildConfig([1, 2]), /top level must be a mapping/);
  });

  it('stops on a file that does not parse or does not exist, naming the file', () => {
    const dir = tempDir('config');
    try {
      const file = join(dir.path, 'bad.yaml');
      writeFileSync(file, 'worker:\n  ackRetries: [1,\n');
      assert.throws(() => loadConfig(file, {}), /bad\.yaml: not valid YAML/);
      assert.throws(() => loadConfig(join(dir.path, 'missing.yaml'), {}), /missing\.yaml: cannot read/);
    } finally {
      dir.remove();
    }
  });

  it('loads the shipped config files', () => {
    for (const name of ['courier', 'business', 'dispatcher', 'worker']) {
      const config = loadConfig(`configs/${name}.yaml`, {});
      assert.ok(config.worker.ackTimeoutMs > 0, name);
    }
    assert.deepEqual(loadConfig('configs/courier.yaml', {}).auth.apiKeys, ['courier-dev-key']);
  });
});
