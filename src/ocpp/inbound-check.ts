import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import type { OcppVersion } from './versions.js';
import type { JsonObject } from './framing.js';
import { actionDirection } from './catalogue.js';
import type { OcppValidator } from './validation.js';
import type { ProtocolMetrics } from './protocol-metrics.js';
import type { InboundCheckFailure } from './rpc-shared.js';

/** The `ocpp.validation` config: a default mode and per-action overrides (e.g. a fleet breaking CiString20). */
export type ValidationPolicy = GatewayConfig['ocpp']['validation'];

/**
 * Decides whether a charger's CALL may be handled: the action must exist in the charger's version and be one a
 * charger sends, and the payload must match the official schema (strictly, or only logged, or not checked,
 * per action).
 */
export function createInboundCheck(
  validators: Record<OcppVersion, OcppValidator>,
  policy: ValidationPolicy,
  metrics: ProtocolMetrics,
  log: Logger,
): (version: OcppVersion, action: string, payload: JsonObject) => InboundCheckFailure | null {
  const modes = new Map(Object.entries(policy.actions));
  return (version, action, payload) => {
    const direction = actionDirection(version, action);
    if (direction === undefined) {
      return {
        reason: 'notImplemented',
        message: action === '' ? 'the action name is empty' : `${truncate(action)} is not an action of ${version}`,
      };
    }
    if (direction !== 'chargerToCentral') {
      return { reason: 'notSupported', message: `${action} is sent by the central system, not by a charge point` };
    }
    const mode = modes.get(action) ?? policy.default;
    if (mode === 'off') return null;
    const violation = validators[version].validateRequest(action, payload);
    if (violation === null) return null;
    metrics.validationFailure(action, 'request', mode);
    if (mode === 'log') {
      log.warn({ action, protocol: version, errors: violation.errors }, 'charger payload breaks the schema; handled anyway (validation mode log)');
      return null;
    }
    return { reason: violation.reason, message: violation.message, details: { errors: violation.errors } };
  };
}

function truncate(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
