/**
 * How a load-generating charger answers the central system: from the answer table, and acting on
 * the CALLs a real charger acts on (TriggerMessage sends the message, a remote start or stop
 * changes its session at once).
 */
import { defaultAnswer } from './charger-answers.js';
import type { SimulatedCharger } from './client.js';
import type { LoadCharger } from './load-charger.js';

/** A CallHandler for LoadCharger: one shared function for every charger of the process. */
export function answerCentralCall(action: string, payload: unknown, charger: SimulatedCharger): unknown {
  const c = charger as LoadCharger;
  const answer = defaultAnswer(c.version, action, payload);
  // Only read when the answer table accepted the request, which it does only for an object.
  const p = payload as { connectorId?: unknown; evse?: { id?: unknown }; requestedMessage?: unknown } | null;
  if (answer.status === 'Accepted') {
    switch (action) {
      case 'TriggerMessage':
      case 'ExtendedTriggerMessage': {
        const connector = Number.isInteger(p?.connectorId) ? (p?.connectorId as number) : Number.isInteger(p?.evse?.id) ? (p?.evse?.id as number) : undefined;
        c.host.trigger(c, String(p?.requestedMessage), connector);
        break;
      }
      case 'RemoteStartTransaction':
      case 'RequestStartTransaction':
        // Idle chargers (no calls per minute) send nothing after their boot: they only answer.
        if (!c.host.paced) break;
        if (!c.inSession) c.remoteStart = true;
        c.nextSlotAt = 0; // act at once, not at the next paced slot
        c.host.kickSoon(c);
        break;
      case 'RemoteStopTransaction':
      case 'RequestStopTransaction':
        if (!c.host.paced) break;
        if (c.inSession) c.remoteStop = true;
        c.nextSlotAt = 0;
        c.host.kickSoon(c);
        break;
    }
  }
  if (action === 'GetTransactionStatus' && c.inSession) return { ongoingIndicator: true, messagesInQueue: false };
  return answer;
}
