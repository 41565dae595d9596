// A small reader of Prometheus' text exposition format (what prom-client writes), for tests that check
// /metrics: families with their HELP and TYPE, and samples with labels and values.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string | undefined;
  type: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses an exposition; throws on a line that is neither a comment nor a sample, or a sample of no family. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help: undefined, type: undefined, samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'HELP') family(name).help = rest;
      else family(name).type = rest;
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText = '', raw] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    for (const [, key, value] of labelText.matchAll(LABEL)) labels[key as string] = value as string;
    // Prometheus parses values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client
    // writes "Nan" for an event-loop gauge that has no sample yet).
    const special: Record<string, number> = { nan: NaN, '+inf': Infinity, inf: Infinity, '-inf': -Infinity };
    const value = special[raw.toLowerCase()] ?? Number(raw);
    if (Number.isNaN(value) && raw.toLowerCase() !== 'nan') throw new Error(`bad value in: ${line}`);
    const owner = ownerOf(families, name);
    if (!owner) throw new Error(`sample of an undeclared family: ${line}`);
    owner.samples.push({ name, labels, value });
  }
  return families;
}

function ownerOf(families: Map<string, Family>, sample: string): Family | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
  }
  return undefined;
}

/** Sum of the samples named `sample` whose labels include `labels` (0 when none). */
export function valueOf(
  families: Map<string, Family>,
  sample: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== sample) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
  }
  return sum;
}

export async function scrape(baseUrl: string): Promise<Map<string, Family>> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`${baseUrl}/metrics answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`${baseUrl}/metrics: content-type ${type}`);
  return parseExposition(await res.text());
}

/**
 * The naming rules of https://prometheus.io/docs/practices/naming/ for courier's own families, plus HELP
 * and TYPE on every family; returns the problems found.
 */
export function namingProblems(families: Map<string, Family>): string[] {
  const problems: string[] = [];
  for (const f of families.values()) {
    if (!f.help) problems.push(`${f.name}: no HELP`);
    if (!f.type) problems.push(`${f.name}: no TYPE`);
    if (!f.name.startsWith('courier_')) continue;
    if (!/^courier_[a-z0-9_]+$/.test(f.name)) problems.push(`${f.name}: not snake_case`);
    if (f.type === 'counter' && !f.name.endsWith('_total'))
      problems.push(`${f.name}: counter without _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: _total on a ${f.type}`);
    if (/(latency|duration|_time)(_|$)/.test(f.name) && !f.name.endsWith('_seconds'))
      problems.push(`${f.name}: a time not in seconds`);
    if (/_ms|millis|_bytes_total_/.test(f.name)) problems.push(`${f.name}: not a base unit`);
  }
  return problems;
}
