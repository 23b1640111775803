import type { OcppVersion } from '../ocpp/versions.js';
import type { JsonObject } from '../ocpp/framing.js';
import { OcppCallError } from '../ocpp/errors.js';
import type { LocalAnswers } from './local-answers.js';
import type { ChargerSession } from './session.js';

/** Answers a charger's valid CALL. */
export class ChargerCallHandler {
  constructor(private readonly local: LocalAnswers) {}

  handle(session: ChargerSession, action: string, payload: JsonObject, version: OcppVersion): JsonObject | Promise<JsonObject> {
    if (!this.local.has(version, action)) {
      throw new OcppCallError('notSupported', `the gateway does not handle ${action}`);
    }
    if (action === 'BootNotification') rememberBoot(session, version, payload);
    return this.local.answer(version, action, payload) as JsonObject | Promise<JsonObject>;
  }
}

function rememberBoot(session: ChargerSession, version: OcppVersion, payload: JsonObject): void {
  const p = payload as Record<string, any>;
  session.boot =
    version === 'ocpp1.6'
      ? { at: Date.now(), vendor: p.chargePointVendor, model: p.chargePointModel, serialNumber: p.chargePointSerialNumber ?? p.chargeBoxSerialNumber, firmwareVersion: p.firmwareVersion }
      : { at: Date.now(), vendor: p.chargingStation?.vendorName, model: p.chargingStation?.model, serialNumber: p.chargingStation?.serialNumber, firmwareVersion: p.chargingStation?.firmwareVersion };
}
