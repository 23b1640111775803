/** WebSocket close codes the gateway uses, each with the reason the charger (and its log) will see. */
export const CLOSE = {
  /** The gateway is shutting down or draining; reconnect elsewhere or later. */
  goingAway: 1001,
  /** The charger stopped reading and its outbox filled. */
  outboxFull: 1008,
  /** A newer connection with the same identity took over this charger. */
  replaced: 4000,
} as const;
