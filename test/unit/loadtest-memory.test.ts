// The load tools find server pids by the port they listen on, from /proc/net/tcp{,6}: the scan must find a
// listener while other connections exist (the file lists those after the listeners, and at a million
// connections it is far too large to read whole).
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { listeningInodes } from '../../scripts/loadtest/memory.js';

function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed while listed
    }
  }
  return inodes;
}

describe('loadtest listening-socket lookup', () => {
  it('finds the inode of a listener among established connections, and nothing for a closed port', async () => {
    const server = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const clients: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve, reject) => {
          const c = createConnection(port, '127.0.0.1', resolve);
          c.on('error', reject);
          clients.push(c);
        });
      }
      const found = listeningInodes(port);
      assert.equal(found.size, 1, `listening inodes for port ${port}: ${[...found].join(', ')}`);
      const inode = [...found][0] as string;
      assert.ok(ownSocketInodes().has(inode), 'the inode found is this process’s listening socket');
    } finally {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.equal(listeningInodes(port).size, 0, 'a closed port has no listener');
  });
});
