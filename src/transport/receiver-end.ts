import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

const streamEnd = Writable.prototype.end;

/** One function for every receiver: it reads its stream from `this`, so no connection needs a closure of its own. */
const endOnce = function endOnce(this: Writable, ...args: unknown[]): Writable {
  if (args.length === 0 && (this.writableEnded || this.destroyed)) return this;
  return (streamEnd as (this: Writable, ...a: unknown[]) => Writable).apply(this, args);
} as Writable['end'];

/**
 * Makes a second `end()` of ws's per-connection receiver free.
 *
 * ws ends its receiver when the socket ends and again when it closes, so a charger that closes with a FIN ends it
 * twice. Node's `Writable.end` on a stream that has already finished builds an `ERR_STREAM_ALREADY_FINISHED` error,
 * stack trace included, and drops it when no callback was given, as ws gives none: in a CPU profile of a storm by
 * hand (19,000 chargers dropped and back, 38,000 connection ends), 397 ms, or 1.7 % of the gateway's busy time,
 * about 10 µs an end (bench/analysis.md, ninth round). Called again without a callback on a stream that has ended or been destroyed,
 * it now returns at once; every other call is Node's own.
 */
export function makeRepeatedReceiverEndFree(ws: WebSocket): void {
  const receiver = (ws as unknown as { _receiver?: unknown })._receiver;
  if (!(receiver instanceof Writable)) return;
  receiver.end = endOnce;
}
