// Measures what the HTTP framework alone costs per request on this machine: a JSON POST echoed by Express
// (with express.json) and by bare node:http, each served by a child process and driven by the parent over 64
// keep-alive connections for 5 s. This is the measured cause for serving the message routes on node:http
// (internal/http/fast-routes.ts). Run: `npm run build && node dist/scripts/loadtest/http-framework-bench.js`.
import { fork } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

const SECONDS = 5;
const CONNECTIONS = 64;
const body = JSON.stringify({ from: 'a', to: 'b', type: 'text', content: 'hello world', clientMsgId: 'x' });

function serve(kind: string): void {
  const server =
    kind === 'express'
      ? createServer(
          express()
            .use(express.json({ limit: '1mb' }))
            .post('/v1/messages', (req, res) => {
              res.json({ ok: true, n: String((req.body as { content: string }).content).length });
            }),
        )
      : createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { content: string };
            const out = JSON.stringify({ ok: true, n: parsed.content.length });
            res.writeHead(200, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(out),
            });
            res.end(out);
          });
        });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
}

async function drive(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  const loop = (): Promise<void> =>
    new Promise((resolve) => {
      const once = () => {
        if (Date.now() > end) return resolve();
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/v1/messages',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              done++;
              once();
            });
          },
        );
        req.on('error', () => resolve());
        req.end(body);
      };
      once();
    });
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  agent.destroy();
  return done / SECONDS;
}

async function main(): Promise<void> {
  for (const kind of ['express', 'node:http']) {
    const child = fork(new URL(import.meta.url), ['--serve', kind]);
    const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(Number(p))));
    const rate = await drive(port);
    child.kill();
    process.stdout.write(`${kind.padEnd(10)} ${Math.round(rate).toLocaleString('en')} req/s\n`);
  }
}

const at = process.argv.indexOf('--serve');
if (at >= 0) serve(process.argv[at + 1] ?? 'node:http');
else await main();
