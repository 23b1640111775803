/** WebSocket close codes the gateway uses, each with the reason the charger (and its log) will see. */
export const CLOSE = {
  /** The gateway is shutting down or draining; reconnect elsewhere or later. */
  goingAway: 1001,
  /** The charger stopped reading and its outbox filled. */
  outboxFull: 1008,
  /** The charger kept sending CALLs beyond its rate (ocpp.inboundRate) after being refused. */
  rateLimited: 1008,
  /** Cluster mode: this instance lost its ownership registration; reconnect (to any instance). */
  serviceRestart: 1012,
  /** Cluster mode: the charger's identity could not be claimed (registry unreachable); reconnect later. */
  tryAgainLater: 1013,
  /** A newer connection with the same identity took over this charger. */
  replaced: 4000,
} as const;
