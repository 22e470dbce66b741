/**
 * Logging for drivers and commands: pino, JSON lines, always on stderr (stdout carries results only).
 * Synchronous writes, so a line logged just before exit is not lost.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { verbose?: boolean; name?: string; level?: string } = {}): Logger {
  const level = options.level ?? (options.verbose === true ? 'debug' : 'info');
  return pino(
    { level, base: options.name === undefined ? {} : { node: options.name }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
