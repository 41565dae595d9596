import { ConfigError, configPathFromArgv, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/**
 * Loads `--config <file>` + `COURIER_*` or exits with the message that names the bad key: a process with a
 * wrong config must not start half-working.
 */
export function loadConfigOrExit(argv: string[] = process.argv): Config {
  try {
    return loadConfig(configPathFromArgv(argv));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`courier: invalid configuration\n${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Prints a start-up failure (config or unreachable backend) and exits non-zero. */
export function exitOnStartFailure(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`courier: failed to start: ${message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

/** Separate processes talk over the network, so they need the shared internal key from config. */
export function requireInternalKey(config: Config): string {
  const key = config.auth.internalKey;
  if (key.length < 16) {
    throw new ConfigError(
      'auth.internalKey: roles in separate processes need a shared key of at least 16 characters',
    );
  }
  return key;
}
