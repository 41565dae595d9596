#!/usr/bin/env node
// Bundles the demo web pages (web/) into dist/web, which business serves (internal/business/web.ts):
// one ES module per page with the client SDK inside, one stylesheet, the HTML pages and static images.
// Everything is local, so the pages make no request outside their own origin.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/web'; // beside the compiled server, so whatever ships dist/ ships the pages
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/assets`, { recursive: true });

await build({
  entryPoints: {
    shop: 'web/shop.ts',
    agent: 'web/agent.ts',
    styles: 'web/styles.css',
    admin: 'web/admin.ts', // the operator's dashboard at /admin (internal/business/admin-api.ts)
    'admin-styles': 'web/admin.css',
  },
  outdir: `${out}/assets`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
cpSync('web/pages', out, { recursive: true });
cpSync('web/static', `${out}/assets`, { recursive: true });
console.log(`web pages built into ${out}`);
