// Command-line options of the load tools: one typed spec per tool, from which both the parser and the
// `--help` text are derived, so the help can never drift from what the parser accepts.

export type OptionKind = 'int' | 'num' | 'str' | 'bool';

export interface OptionSpec {
  kind: OptionKind;
  /** Numbers always have a default; strings default to '' (= not given); booleans to false. */
  def?: number | string | boolean;
  help: string;
}

export type Specs = Record<string, OptionSpec>;

export type Options<S extends Specs> = {
  [K in keyof S]: S[K]['kind'] extends 'int' | 'num'
    ? number
    : S[K]['kind'] extends 'bool'
      ? boolean
      : string;
};

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'usage';
}

/** Thrown (and caught by main) when `--help` was asked for, carrying the text to print. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
  readonly code = 'help';
}

const flag = (key: string) => '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

export function helpText(tool: string, summary: string, specs: Specs): string {
  const rows = Object.entries(specs).map(([key, spec]) => {
    const value = spec.kind === 'bool' ? '' : ` <${spec.kind === 'str' ? 'text' : 'n'}>`;
    const def =
      spec.def === undefined || spec.def === '' || spec.def === false ? '' : ` (default ${spec.def})`;
    // The default goes on the first line of a multi-line help, where the eye looks for it.
    const [first = '', ...more] = spec.help.split('\n');
    return { left: flag(key) + value, right: [first + def, ...more].join('\n') };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const lines = rows.map(
    (r) => '  ' + r.left.padEnd(width) + r.right.replace(/\n/g, '\n' + ' '.repeat(width + 2)),
  );
  // Tools run through main.js; the peer (a path) runs as its own script.
  const usage = tool.includes('/') ? `node dist/scripts/loadtest/${tool}.js` : `npm run loadtest -- ${tool}`;
  return `usage: ${usage} [options]\n\n${summary}\n\noptions:\n${lines.join('\n')}\n  --help${' '.repeat(Math.max(2, width - 6))}this text\n`;
}

/** Parses `--name value` and `--name=value`; unknown options and bad numbers stop with a message naming them. */
export function parseOptions<S extends Specs>(
  tool: string,
  summary: string,
  specs: S,
  argv: string[],
): Options<S> {
  const byFlag = new Map(Object.keys(specs).map((key) => [flag(key), key]));
  const out: Record<string, number | string | boolean> = {};
  for (const [key, spec] of Object.entries(specs)) {
    out[key] = spec.def ?? (spec.kind === 'bool' ? false : spec.kind === 'str' ? '' : Number.NaN);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') throw new HelpRequested(helpText(tool, summary, specs));
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(name);
    const spec = key === undefined ? undefined : specs[key];
    if (key === undefined || !spec) {
      throw new UsageError(`${tool}: unknown option ${name} (see npm run loadtest -- ${tool} --help)`);
    }
    if (spec.kind === 'bool') {
      out[key] = eq > 0 ? arg.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new UsageError(`${tool}: ${name} needs a value`);
    if (spec.kind === 'str') {
      out[key] = raw;
      continue;
    }
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
      throw new UsageError(
        `${tool}: ${name} expects ${spec.kind === 'int' ? 'an integer' : 'a number'}, got "${raw}"`,
      );
    }
    out[key] = n;
  }
  return out as Options<S>;
}

/** Stops with a usage error unless `ok`; the message names the option so the user knows what to change. */
export function check(ok: boolean, message: string): void {
  if (!ok) throw new UsageError(message);
}

/** Comma-separated list option to an array without empty items. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
