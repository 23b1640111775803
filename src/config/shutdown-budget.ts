/**
 * How a graceful shutdown spends `shutdown.deadlineMs`. The drain's waits (the waves, CALLs in flight, close
 * handshakes) all fit inside the deadline with room left for the last steps, so a shutdown where nothing is
 * stuck ends before the deadline with exit 0; the deadline's forced exit is only for what is truly stuck.
 */

/** After the last charger is told to go: how long close handshakes may take before sockets are dropped. */
export const CLOSE_HANDSHAKE_MS = 2_000;
/** After the chargers are gone: ending event streams, flushing state, closing the bus and the admin API. */
export const FINAL_STEPS_MS = 2_000;
/** What the deadline must leave beyond `shutdown.drainMs`. */
export const SHUTDOWN_RESERVE_MS = CLOSE_HANDSHAKE_MS + FINAL_STEPS_MS;

/** Time limits of one drain, counted from its start. */
export interface DrainBudget {
  /** By then every charger has been closed, CALL in flight or not (waves are spread within it). */
  closeAllByMs: number;
  /** After closeAllByMs: how long sockets may take to close before what is left is dropped. */
  socketsMs: number;
}

/** The drain budget of a shutdown that must end within `deadlineMs` (validated: drainMs + reserve ≤ deadline). */
export function shutdownDrainBudget(shutdown: { deadlineMs: number }): DrainBudget {
  return { closeAllByMs: Math.max(0, shutdown.deadlineMs - SHUTDOWN_RESERVE_MS), socketsMs: CLOSE_HANDSHAKE_MS };
}
