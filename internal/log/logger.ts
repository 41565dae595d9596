import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LogOptions {
  level: string; // pino level: trace, debug, info, warn, error, fatal, silent
  /** Pretty, coloured lines instead of JSON (development on a terminal). */
  pretty: boolean;
}

/** The root logger of a process; components take `logger.child({ component })` from it, never a global. */
export function createLogger(options: LogOptions, bindings: Record<string, string> = {}): Logger {
  const transport = options.pretty
    ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } }
    : undefined;
  return pino({ level: options.level, base: { pid: process.pid, ...bindings }, transport });
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
