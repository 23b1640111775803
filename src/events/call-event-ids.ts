import { createHash } from 'node:crypto';

/**
 * The eventIds of one charger CALL's events, derived from what identifies the CALL rather than drawn at random,
 * so that a CALL the charger sends again (it got InternalError because the stream did not acknowledge in time,
 * or its socket dropped before the answer) yields the same eventIds, on whichever instance it arrives. The
 * stream's duplicate window then stores each event once (eventId = `Nats-Msg-Id`).
 *
 * What identifies a CALL: the charger's identity, the CALL's messageId and action, and its payload. A messageId
 * alone is unique only per connection (firmware may restart its counter after a reboot); with the payload in the
 * digest two different CALLs never share ids, while a byte-for-byte retry always does. The event's index among
 * the CALL's events tells its events apart. The gatewayId is left out on purpose: the retry may reach another
 * instance. One part of the answer counts too: the transactionId a 1.6 StartTransaction was given. A retry that
 * reaches another instance may be given another one (the first instance's answer is remembered only there), and
 * its `transaction.started` must then be stored, or the stream would name a transaction the charger never uses.
 *
 * The result has the shape of every other eventId: a UUID (version 5 layout, name-based on SHA-1).
 */
export function callEventIdBase(chargePointId: string, messageId: string, action: string, payload: unknown, answer: Record<string, unknown>): string {
  const given = action === 'StartTransaction' ? (answer.transactionId ?? null) : null;
  // JSON.stringify keeps the key order of the parsed frame, so the same frame always hashes the same.
  return `${JSON.stringify([chargePointId, messageId, action, given])}\n${JSON.stringify(payload)}`;
}

export function callEventId(base: string, index: number): string {
  const digest = createHash('sha1').update(base).update(`\n${index}`).digest();
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = digest.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
