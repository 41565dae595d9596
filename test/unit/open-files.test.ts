import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../internal/config/load.js';
import { connectionCap, parseOpenFilesLimit, RESERVED_FILES } from '../../internal/worker/open-files.js';

// /proc/self/limits of a Linux process, as the kernel writes it (columns padded with spaces).
const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                65536                files     
Max locked memory         8388608              8388608              bytes     
Max realtime timeout      unlimited            unlimited            us        
`;

describe('open-files limit', () => {
  it('reads the soft column of "Max open files"', () => {
    assert.equal(parseOpenFilesLimit(LIMITS), 20_000);
  });

  it('is unknown when unlimited, missing or garbled', () => {
    const unlimited = LIMITS.replace('20000                65536', 'unlimited            unlimited');
    assert.equal(parseOpenFilesLimit(unlimited), null);
    assert.equal(parseOpenFilesLimit(LIMITS.replace('Max open files', 'Max open filez')), null);
    assert.equal(parseOpenFilesLimit(''), null);
    assert.equal(parseOpenFilesLimit('Max open files            -1  x  files'), null);
  });

  it('caps a worker below the limit unless worker.maxConnections is set', () => {
    assert.deepEqual(connectionCap(0, 20_000), { max: 20_000 - RESERVED_FILES, source: 'open-files limit' });
    assert.deepEqual(connectionCap(5_000, 20_000), { max: 5_000, source: 'config' });
    assert.deepEqual(connectionCap(0, null), { max: null, source: 'none' }, 'no /proc: no cap');
    assert.deepEqual(connectionCap(0, 100), { max: 1, source: 'open-files limit' }, 'never 0 or less');
  });

  it('worker.maxConnections: 0 (derived) by default, COURIER_WORKER_MAX_CONNECTIONS, no negatives', () => {
    assert.equal(buildConfig({}).worker.maxConnections, 0);
    const env = { COURIER_WORKER_MAX_CONNECTIONS: '19000' };
    assert.equal(buildConfig({ worker: { maxConnections: 2 } }, env).worker.maxConnections, 19_000);
    assert.throws(() => buildConfig({ worker: { maxConnections: -1 } }), /worker\.maxConnections/);
    assert.throws(() => buildConfig({ worker: { maxConnections: 1.5 } }), /worker\.maxConnections/);
  });
});
