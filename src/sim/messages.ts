/**
 * Payloads of the CALLs a simulated charger sends, for each version. They are what a typical AC
 * charger sends (three phases, a handful of measurands) so that a server parses and validates
 * realistic sizes, not toy messages.
 */
import type { SimVersion } from './charger-answers.js';

export const VENDOR = 'OCPP-Sim';
export const MODEL = 'SimCharger-AC22';
export const FIRMWARE = '1.4.2';

export function bootNotification(version: SimVersion, identity: string): Record<string, unknown> {
  const serial = identity.slice(-25);
  if (version === 'ocpp1.6') {
    return {
      chargePointVendor: VENDOR,
      chargePointModel: MODEL,
      chargePointSerialNumber: serial,
      chargeBoxSerialNumber: serial,
      firmwareVersion: FIRMWARE,
      meterType: 'SimMeter',
    };
  }
  return {
    reason: 'PowerUp',
    chargingStation: { model: MODEL, vendorName: VENDOR, serialNumber: serial, firmwareVersion: FIRMWARE },
  };
}

/** Connector state as the simulator tracks it; spelled per version on the wire. */
export type ConnectorState = 'Available' | 'Charging';

export function statusNotification(version: SimVersion, connector: number, state: ConnectorState): Record<string, unknown> {
  if (version === 'ocpp1.6') {
    return { connectorId: connector, errorCode: 'NoError', status: state, timestamp: new Date().toISOString() };
  }
  // 2.0.1 has one EVSE per simulated connector, each with connector 1, and no "Charging" state.
  return {
    timestamp: new Date().toISOString(),
    connectorStatus: state === 'Charging' ? 'Occupied' : 'Available',
    evseId: connector,
    connectorId: 1,
  };
}

export function authorize(version: SimVersion, idTag: string): Record<string, unknown> {
  return version === 'ocpp1.6' ? { idTag } : { idToken: { idToken: idTag, type: 'ISO14443' } };
}

/** A realistic set of sampled values for a three-phase session; `meterWh` grows as the session runs. */
function sampledValues(version: SimVersion, meterWh: number, context: string): unknown[] {
  const current = 30 + Math.round(Math.random() * 20) / 10;
  const voltage = 228 + Math.round(Math.random() * 40) / 10;
  const power = Math.round(current * voltage * 3);
  const soc = 20 + (Math.floor(meterWh / 1000) % 80);
  const rows: Array<[string, number, string, string?, string?]> = [
    ['Energy.Active.Import.Register', meterWh, 'Wh'],
    ['Power.Active.Import', power, 'W'],
    ['Current.Import', current, 'A', 'L1'],
    ['Current.Import', current, 'A', 'L2'],
    ['Current.Import', current, 'A', 'L3'],
    ['Voltage', voltage, 'V', 'L1-N'],
    ['SoC', soc, 'Percent', undefined, 'EV'],
  ];
  if (version === 'ocpp1.6') {
    return rows.map(([measurand, value, unit, phase, location]) => {
      const sv: Record<string, unknown> = { value: String(value), context, format: 'Raw', measurand, unit, location: location ?? 'Outlet' };
      if (phase) sv.phase = phase;
      return sv;
    });
  }
  return rows.map(([measurand, value, unit, phase, location]) => {
    const sv: Record<string, unknown> = { value, context, measurand, location: location ?? 'Outlet', unitOfMeasure: { unit } };
    if (phase) sv.phase = phase;
    return sv;
  });
}

export function meterValue(version: SimVersion, meterWh: number, context = 'Sample.Periodic'): Record<string, unknown> {
  return { timestamp: new Date().toISOString(), sampledValue: sampledValues(version, meterWh, context) };
}

// ---- 1.6 transactions ----

export function startTransaction16(connector: number, idTag: string, meterWh: number): Record<string, unknown> {
  return { connectorId: connector, idTag, meterStart: meterWh, timestamp: new Date().toISOString() };
}

export function meterValues16(connector: number, transactionId: number | undefined, meterWh: number): Record<string, unknown> {
  const payload: Record<string, unknown> = { connectorId: connector, meterValue: [meterValue('ocpp1.6', meterWh)] };
  if (transactionId !== undefined) payload.transactionId = transactionId;
  return payload;
}

export function stopTransaction16(transactionId: number, idTag: string, meterWh: number): Record<string, unknown> {
  return {
    transactionId,
    idTag,
    meterStop: meterWh,
    timestamp: new Date().toISOString(),
    reason: 'Local',
    transactionData: [meterValue('ocpp1.6', meterWh, 'Transaction.End')],
  };
}

// ---- 2.0.1 transactions ----

export type TxEventType = 'Started' | 'Updated' | 'Ended';

export function transactionEvent201(
  eventType: TxEventType,
  seqNo: number,
  transactionId: string,
  evseId: number,
  idTag: string,
  meterWh: number,
): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    eventType,
    timestamp: new Date().toISOString(),
    triggerReason: eventType === 'Started' ? 'Authorized' : eventType === 'Updated' ? 'MeterValuePeriodic' : 'StopAuthorized',
    seqNo,
    transactionInfo: { transactionId, chargingState: eventType === 'Ended' ? 'EVConnected' : 'Charging' },
  };
  if (eventType === 'Started') {
    payload.evse = { id: evseId, connectorId: 1 };
    payload.idToken = { idToken: idTag, type: 'ISO14443' };
    payload.meterValue = [meterValue('ocpp2.0.1', meterWh, 'Transaction.Begin')];
  } else if (eventType === 'Updated') {
    payload.meterValue = [meterValue('ocpp2.0.1', meterWh)];
  } else {
    (payload.transactionInfo as Record<string, unknown>).stoppedReason = 'Local';
    payload.meterValue = [meterValue('ocpp2.0.1', meterWh, 'Transaction.End')];
  }
  return payload;
}

export function meterValues201(evseId: number, meterWh: number): Record<string, unknown> {
  return { evseId, meterValue: [meterValue('ocpp2.0.1', meterWh)] };
}

/** The payload of a notification the central system asked for with TriggerMessage (idle state). */
export function idleNotification(action: string): Record<string, unknown> | undefined {
  switch (action) {
    case 'FirmwareStatusNotification':
    case 'DiagnosticsStatusNotification':
      return { status: 'Idle' };
    case 'LogStatusNotification':
      return { status: 'Idle' };
    case 'Heartbeat':
      return {};
    default:
      return undefined;
  }
}
