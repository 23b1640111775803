import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout. Nothing is logged per message at info level: 20,000 chargers would drown it. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
