import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
}

type Tree = Record<string, unknown>;

const toEnvSegment = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

interface EnvKey {
  path: string[];
  /** String-typed keys take the variable's text as is, so a password of "123" stays a string. */
  text: boolean;
}

/** Every leaf key of the schema with its `COURIER_*` variable: worker.ackTimeoutMs → COURIER_WORKER_ACK_TIMEOUT_MS. */
export function envKeys(): Map<string, EnvKey> {
  const out = new Map<string, EnvKey>();
  const walk = (schema: z.ZodTypeAny, path: string[]) => {
    let inner = schema;
    while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner._def.innerType;
    if (inner instanceof z.ZodObject) {
      for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodTypeAny>)) {
        walk(child, [...path, key]);
      }
    } else {
      const text = inner instanceof z.ZodString || inner instanceof z.ZodEnum;
      out.set(`COURIER_${path.map(toEnvSegment).join('_')}`, { path, text });
    }
  };
  walk(configSchema, []);
  return out;
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1] as string] = value;
}

function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.join('.') || '(root)';
      const extra = issue.code === 'unrecognized_keys' ? ` (unknown key: ${issue.keys.join(', ')})` : '';
      return `${source}: ${key}: ${issue.message}${extra}`;
    })
    .join('\n');
}

/**
 * Merges a YAML object with `COURIER_*` overrides and validates the result. Values from the environment are
 * read as YAML scalars, so `COURIER_WORKER_ACK_RETRIES=5` is a number and `COURIER_AUTH_API_KEYS='[a, b]'` a list.
 */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, source = 'config'): Config {
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`${source}: the top level must be a mapping of keys`);
  }
  const tree: Tree = structuredClone((raw as Tree | null | undefined) ?? {});
  for (const [name, { path, text }] of envKeys()) {
    const value = env[name];
    if (value === undefined) continue;
    let parsed: unknown = value;
    if (!text) {
      try {
        parsed = parseYaml(value);
      } catch (err) {
        throw new ConfigError(`${name}: not a valid value (${(err as Error).message})`, { cause: err });
      }
    }
    setPath(tree, path, parsed);
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  return result.data;
}

/** Reads `--config <file>` (YAML) and the environment. A file that does not parse stops the process. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: cannot read the config file (${(err as Error).message})`, {
        cause: err,
      });
    }
    try {
      raw = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`${file}: not valid YAML (${(err as Error).message})`, { cause: err });
    }
  }
  return buildConfig(raw, env, file ?? 'config');
}

/** The value of `--config` in argv, if any. */
export function configPathFromArgv(argv: string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith('--config='))?.slice('--config='.length);
}
