import { pino, transport as pinoTransport, type Logger, type TransportSingleOptions } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  level: string; // pino level: trace, debug, info, warn, error, fatal, silent
  /** Pretty, coloured lines instead of JSON; 'auto': on a terminal, unless NODE_ENV=production. */
  pretty: boolean | 'auto';
  /** JSON lines into this file, rotated daily (`<name>.<yyyy-MM-dd>.<n>.log`), instead of stdout. */
  file?: string;
  keepDays?: number; // rotated files kept beside the current one (default 14)
}

/** The root logger of a process; components take `logger.child({ component })` from it, never a global. */
export function createLogger(options: LogOptions, bindings: Record<string, string> = {}): Logger {
  const transport = transportOf(options, process.stdout.isTTY, process.env.NODE_ENV);
  const settings = { level: options.level, base: { pid: process.pid, ...bindings } };
  return transport ? pino(settings, pinoTransport(transport)) : pino(settings);
}

/**
 * Where the lines go: a rotated file or pretty lines (each in a transport thread), or undefined for pino's
 * own JSON on stdout, written synchronously so nothing is lost when the process exits.
 */
export function transportOf(
  options: LogOptions,
  isTTY: boolean | undefined,
  nodeEnv: string | undefined,
): TransportSingleOptions | undefined {
  if (options.file) {
    return {
      target: 'pino-roll',
      options: {
        file: options.file,
        frequency: 'daily',
        dateFormat: 'yyyy-MM-dd',
        mkdir: true,
        // Files from earlier runs count too, so a node restarted every day still keeps only keepDays.
        limit: { count: Math.max(1, options.keepDays ?? 14), removeOtherLogFiles: true },
      },
    };
  }
  const pretty = options.pretty === 'auto' ? isTTY === true && nodeEnv !== 'production' : options.pretty;
  if (!pretty) return undefined;
  return { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } };
}

/**
 * A component's logger: `component`, and the node id and role unless the parent already carries them
 * (a process of one role binds them at its root; pino would otherwise write the keys twice).
 */
export function componentLogger(
  parent: Logger,
  component: string,
  node?: { id: string; role: string },
): Logger {
  const bound = parent.bindings();
  const extra: Record<string, string> = { component };
  if (node && bound.node !== node.id) extra.node = node.id;
  if (node && bound.role !== node.role) extra.role = node.role;
  return parent.child(extra);
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
