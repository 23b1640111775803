/**
 * How a load-generating charger answers the central system: from the answer table, and acting on
 * the CALLs a real charger acts on (TriggerMessage sends the message, a remote start or stop
 * changes its session at once).
 */
import { defaultAnswer } from './charger-answers.js';
import type { SimulatedCharger } from './client.js';
import type { LoadCharger } from './load-charger.js';

/** A CallHandler for LoadCharger: one shared function for every charger of the process. */
export function answerCentralCall(action: string, payload: any, charger: SimulatedCharger): unknown {
  const c = charger as LoadCharger;
  const answer = defaultAnswer(c.version, action, payload);
  if (answer.status === 'Accepted') {
    switch (action) {
      case 'TriggerMessage':
      case 'ExtendedTriggerMessage': {
        const connector = Number.isInteger(payload?.connectorId) ? payload.connectorId : Number.isInteger(payload?.evse?.id) ? payload.evse.id : undefined;
        c.host.trigger(c, String(payload.requestedMessage), connector);
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
