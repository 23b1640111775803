/**
 * How a charger comes back: the randomized exponential back-off between attempts, and the
 * (source address, port) pair each attempt binds toward a 127.x server.
 */
import type { ResolvedOptions } from './options.js';

/**
 * The wait before the next attempt after `attempt` failed ones: the ceiling doubles per attempt up
 * to --reconnect-max; half of it fixed, half random, so the wait still grows and a fleet dropped at
 * once comes back spread out.
 */
export function backoffDelayMs(o: ResolvedOptions, attempt: number): number {
  const ceiling = Math.min(o.reconnectMaxMs, o.reconnectBaseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * The (source address, port) pair of a charger's `round`-th connection, or undefined when the
 * kernel chooses. Pair k of charger i is slot i + k * chargers: distinct across chargers and
 * workers for the first connection and the first reconnect of each, so a clash only comes from a
 * stranger (another program on the port, an old TIME_WAIT the kernel will not reuse) and is
 * retried on the next pair.
 */
export function sourcePair(o: ResolvedOptions, charger: number, round: number): { localAddress: string; localPort: number } | undefined {
  const addresses = o.sourceAddresses;
  if (addresses.length === 0) return undefined;
  const slots = addresses.length * o.sourcePortSpan;
  const slot = (charger + round * o.chargers) % slots;
  return { localAddress: addresses[slot % addresses.length], localPort: o.sourcePortBase + Math.floor(slot / addresses.length) };
}
