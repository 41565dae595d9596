// Reports: the same content as JSON (for scripts and docs/BENCHMARKS.md) and as one self-contained HTML page
// (tables + inline SVG charts) under reports/<tool>-<timestamp>.{json,html}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { escapeHtml, lineChart, type Chart } from './svg.js';

export type Cell = string | number | boolean | null;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
}

export interface Report {
  tool: string;
  title: string;
  startedAt: string;
  command: string;
  machine: { hostname: string; cpus: number; cpuModel: string; memoryGiB: number; node: string };
  options: Record<string, unknown>;
  /** Headline numbers, in the order they are shown. */
  summary: Record<string, Cell>;
  /** Things the reader must not miss (losses, refused plans, generator lag). */
  warnings: string[];
  tables: Table[];
  charts: Chart[];
  /** Tool-specific full results (per-second series, failures by reason, …). */
  data: Record<string, unknown>;
}

export function newReport(tool: string, title: string, options: Record<string, unknown>): Report {
  const cpuList = cpus();
  return {
    tool,
    title,
    startedAt: new Date().toISOString(),
    command: ['npm run loadtest --', ...process.argv.slice(2)].join(' '),
    machine: {
      hostname: hostname(),
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      node: process.version,
    },
    options: redact(options),
    summary: {},
    warnings: [],
    tables: [],
    charts: [],
    data: {},
  };
}

/** Secrets passed on the command line stay out of reports that get shared. */
function redact(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[k] = /secret|key/i.test(k) && v ? '(redacted)' : v;
  return out;
}

export function writeReport(report: Report, dir = 'reports'): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const base = resolve(join(dir, `${report.tool}-${stamp}`));
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.html`, renderHtml(report));
  return { json: `${base}.json`, html: `${base}.html` };
}

function cell(v: Cell): string {
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toFixed(2)));
  return escapeHtml(v === null ? '—' : String(v));
}

function table(t: Table): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td>${cell(c)}</td>`).join('')}</tr>`).join('\n');
  const thead = t.columns.some((c) => c !== '') ? `<thead><tr>${head}</tr></thead>` : ''; // key/value tables
  return `<h2>${escapeHtml(t.title)}</h2>\n<table>${thead}<tbody>\n${body}\n</tbody></table>`;
}

export function renderHtml(r: Report): string {
  const summary: Table = { title: 'Summary', columns: ['', ''], rows: Object.entries(r.summary) };
  const machine = `${r.machine.hostname} · ${r.machine.cpus} × ${r.machine.cpuModel} · ${r.machine.memoryGiB} GiB · Node ${r.machine.node}`;
  const warnings = r.warnings.length
    ? `<div class="warn"><b>Warnings</b><ul>${r.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title>
<style>
body{font-family:sans-serif;margin:24px;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 10px;text-align:left}
th{background:#f4f4f4}code{background:#f4f4f4;padding:1px 4px}.warn{background:#fff4e5;border:1px solid #f0a020;padding:6px 12px;margin:12px 0}
.charts svg{display:block;margin:12px 0}
</style></head><body>
<h1>${escapeHtml(r.title)}</h1>
<p><code>${escapeHtml(r.command)}</code><br>${escapeHtml(r.startedAt)} · ${escapeHtml(machine)}</p>
${warnings}
${table(summary)}
${r.tables.map(table).join('\n')}
<div class="charts">${r.charts.map(lineChart).join('\n')}</div>
${table({ title: 'Options', columns: ['option', 'value'], rows: Object.entries(r.options).map(([k, v]) => [k, JSON.stringify(v)]) })}
</body></html>
`;
}
