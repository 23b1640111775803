import type { Logger } from 'pino';

type Level = 'warn' | 'info' | 'error' | 'debug';

interface KeyState {
  /** When the current interval started (ms). */
  windowStart: number;
  /** Occurrences in the current interval that were not written. */
  suppressed: number;
}

export interface RateLimitedLogOptions {
  /** Each key writes at most one line per interval; the rest are counted and summarised. */
  intervalMs: number;
  /** Keys remembered at once; beyond it the least recently used key is forgotten (its count summarised). */
  maxKeys: number;
}

/**
 * Per-message warnings written at most once per key and interval: the first occurrence is written as it is,
 * the next ones are counted, and the next line for that key (or the periodic summary) says how many were
 * left out. A fleet that breaks one field on every message therefore costs one line per action per interval,
 * not one per message. Keys are few by construction (an action, or a charger and an action) and bounded here.
 */
export class RateLimitedLog {
  private readonly keys = new Map<string, KeyState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly options: RateLimitedLogOptions = { intervalMs: 60_000, maxKeys: 10_000 },
  ) {}

  /**
   * Writes `message` with `fields` unless this key already wrote in the current interval; then it is only
   * counted. Returns true when the line was written.
   */
  write(level: Level, key: string, fields: Record<string, unknown>, message: string): boolean {
    const now = Date.now();
    let state = this.keys.get(key);
    if (state !== undefined && now - state.windowStart < this.options.intervalMs) {
      state.suppressed++;
      // Re-insert so Map order is least recently used first.
      this.keys.delete(key);
      this.keys.set(key, state);
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    if (state === undefined) {
      this.makeRoom();
      state = { windowStart: now, suppressed: 0 };
    } else {
      this.keys.delete(key);
      state.windowStart = now;
      state.suppressed = 0;
    }
    this.keys.set(key, state);
    this.log[level](suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields, message);
    this.armSummary();
    return true;
  }

  /** Keys currently remembered (for tests and status pages). */
  get size(): number {
    return this.keys.size;
  }

  /** Writes what is still counted and stops the summary timer. */
  flush(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.summarise(Number.POSITIVE_INFINITY);
  }

  private makeRoom(): void {
    while (this.keys.size >= this.options.maxKeys) {
      const oldest = this.keys.entries().next();
      if (oldest.done === true) return;
      this.keys.delete(oldest.value[0]);
      if (oldest.value[1].suppressed > 0) {
        this.log.warn({ key: oldest.value[0], suppressed: oldest.value[1].suppressed }, 'repeated log lines left out');
      }
    }
  }

  /** Keys idle for a whole interval are summarised (if they counted anything) and forgotten. */
  private summarise(olderThanMs: number): void {
    const now = Date.now();
    for (const [key, state] of this.keys) {
      if (olderThanMs !== Number.POSITIVE_INFINITY && now - state.windowStart < olderThanMs) continue;
      this.keys.delete(key);
      if (state.suppressed > 0) this.log.warn({ key, suppressed: state.suppressed }, 'repeated log lines left out');
    }
  }

  private armSummary(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.summarise(this.options.intervalMs);
      if (this.keys.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }, this.options.intervalMs);
    this.timer.unref();
  }
}
