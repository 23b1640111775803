/**
 * How long the primary waits before restarting a worker that died: doubling with each death that follows a short
 * life, so a worker that crashes at start costs one fork per `maxMs` at most instead of spinning a core.
 */
export const RESTART_BASE_MS = 1000;
export const RESTART_MAX_MS = 30_000;
/** A worker that stayed up this long is deemed healthy: its next death starts the backoff over. */
export const HEALTHY_AFTER_MS = 60_000;

export class RestartBackoff {
  private failures = 0;

  /** The delay before the next restart, given how long the dead worker ran (ms since its fork). */
  next(ranForMs: number): number {
    if (ranForMs >= HEALTHY_AFTER_MS) this.failures = 0;
    const delay = Math.min(RESTART_BASE_MS * 2 ** this.failures, RESTART_MAX_MS);
    this.failures = Math.min(this.failures + 1, 30);
    return delay;
  }
}
