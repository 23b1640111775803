/**
 * What a simulated charger answers to each central-system CALL: one entry per central→charger
 * action of OCPP 1.6 (with the security extension) and 2.0.1. Answers are schema-valid and
 * cooperative (Accepted-style) so that a server's command paths can be exercised end to end; where
 * an honest charger without the feature would say so (no certificates, no charging profiles) the
 * answer says so. A request too malformed to answer becomes the version's format CALLERROR.
 *
 * The table is stateless and shared by every charger, so it costs nothing per connection.
 */
import { isActionAllowed } from '../ocpp/catalogue.js';
import { CallError } from './errors.js';

export type SimVersion = 'ocpp1.6' | 'ocpp2.0.1';

/** Builds the CALLRESULT payload from the CALL payload; throws CallError for a CALLERROR. */
export type Answer = (request: unknown) => Record<string, unknown>;

/** A field of the central system's JSON as sent: tested (typeof, isObject, a Set) where it is read. */
// biome-ignore lint/suspicious/noExplicitAny: the one named way to read untrusted JSON field by field
type Untrusted = any;

/** Messages a simulated charger is able to send when the central system triggers them. */
export const TRIGGERABLE_V16 = new Set([
  'BootNotification',
  'DiagnosticsStatusNotification',
  'FirmwareStatusNotification',
  'Heartbeat',
  'MeterValues',
  'StatusNotification',
  'LogStatusNotification', // ExtendedTriggerMessage only
]);

export const TRIGGERABLE_V201 = new Set([
  'BootNotification',
  'FirmwareStatusNotification',
  'Heartbeat',
  'LogStatusNotification',
  'MeterValues',
  'StatusNotification',
  'TransactionEvent',
]);

const accepted: Answer = () => ({ status: 'Accepted' });
const status =
  (value: string): Answer =>
  () => ({ status: value });
const empty: Answer = () => ({});

function isObject(v: unknown): v is Record<string, Untrusted> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNamed(v: unknown): boolean {
  return isObject(v) && typeof v.name === 'string';
}

/** A component/variable item the answer echoes; it must carry what the response schema requires. */
function isVariableItem(item: Record<string, Untrusted>): boolean {
  return isNamed(item.component) && isNamed(item.variable);
}

const ATTRIBUTE_TYPES = new Set(['Actual', 'Target', 'MinSet', 'MaxSet']);

function attributeTypeOf(item: Record<string, Untrusted>): string {
  return ATTRIBUTE_TYPES.has(item.attributeType) ? item.attributeType : 'Actual';
}

function isMonitorItem(item: Record<string, Untrusted>): boolean {
  return isVariableItem(item) && typeof item.type === 'string' && Number.isInteger(item.severity);
}

/** A list the answer is built from; missing, empty or with unusable items means the request is not well formed. */
function requireList(request: unknown, field: string, itemOk: (item: Record<string, Untrusted>) => boolean): Untrusted[] {
  const list = isObject(request) ? request[field] : undefined;
  if (!Array.isArray(list) || list.length === 0 || !list.every((item) => isObject(item) && itemOk(item))) {
    throw new CallError('FormatViolation', `${field} must be a non-empty array of well-formed items`);
  }
  return list;
}

function intOr(value: unknown, fallback: number): number {
  return Number.isInteger(value) ? (value as number) : fallback;
}

function triggerAnswer(supported: Set<string>): Answer {
  return (request) => ({ status: isObject(request) && supported.has(request.requestedMessage) ? 'Accepted' : 'NotImplemented' });
}

/** The 1.6 configuration keys the simulator reports; read-only flags as a typical charger has them. */
const V16_CONFIGURATION: ReadonlyArray<{ key: string; readonly: boolean; value: string }> = [
  { key: 'AuthorizeRemoteTxRequests', readonly: false, value: 'true' },
  { key: 'ClockAlignedDataInterval', readonly: false, value: '0' },
  { key: 'ConnectionTimeOut', readonly: false, value: '60' },
  { key: 'GetConfigurationMaxKeys', readonly: true, value: '50' },
  { key: 'HeartbeatInterval', readonly: false, value: '300' },
  { key: 'LocalAuthorizeOffline', readonly: false, value: 'true' },
  { key: 'LocalPreAuthorize', readonly: false, value: 'false' },
  { key: 'MeterValuesAlignedData', readonly: false, value: 'Energy.Active.Import.Register' },
  { key: 'MeterValuesSampledData', readonly: false, value: 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC' },
  { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
  { key: 'NumberOfConnectors', readonly: true, value: '2' },
  { key: 'ResetRetries', readonly: false, value: '3' },
  { key: 'StopTransactionOnEVSideDisconnect', readonly: false, value: 'true' },
  { key: 'StopTransactionOnInvalidId', readonly: false, value: 'true' },
  { key: 'SupportedFeatureProfiles', readonly: true, value: 'Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger' },
  { key: 'TransactionMessageAttempts', readonly: false, value: '3' },
  { key: 'TransactionMessageRetryInterval', readonly: false, value: '60' },
  { key: 'UnlockConnectorOnEVSideDisconnect', readonly: false, value: 'true' },
  { key: 'WebSocketPingInterval', readonly: false, value: '30' },
];

/** The 2.0.1 component.variable values the simulator reports (Actual attribute). */
const V201_VARIABLES: ReadonlyMap<string, string> = new Map([
  ['OCPPCommCtrlr.HeartbeatInterval', '300'],
  ['OCPPCommCtrlr.WebSocketPingInterval', '30'],
  ['OCPPCommCtrlr.MessageTimeout', '30'],
  ['OCPPCommCtrlr.NetworkConfigurationPriority', '0'],
  ['OCPPCommCtrlr.OfflineThreshold', '300'],
  ['OCPPCommCtrlr.ResetRetries', '3'],
  ['AlignedDataCtrlr.Interval', '0'],
  ['AlignedDataCtrlr.Measurands', 'Energy.Active.Import.Register'],
  ['SampledDataCtrlr.TxUpdatedInterval', '60'],
  ['SampledDataCtrlr.TxUpdatedMeasurands', 'Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC'],
  ['AuthCtrlr.AuthorizeRemoteStart', 'true'],
  ['AuthCtrlr.LocalPreAuthorize', 'false'],
  ['TxCtrlr.EVConnectionTimeOut', '60'],
  ['TxCtrlr.StopTxOnInvalidId', 'true'],
  ['DeviceDataCtrlr.ItemsPerMessage', '50'],
  ['DeviceDataCtrlr.BytesPerMessage', '65000'],
  ['SecurityCtrlr.SecurityProfile', '1'],
  ['ChargingStation.Available', 'true'],
]);

function nowIso(): string {
  return new Date().toISOString();
}

export const V16_ANSWERS: Readonly<Record<string, Answer>> = {
  CancelReservation: accepted,
  CertificateSigned: accepted,
  ChangeAvailability: accepted,
  ChangeConfiguration: accepted,
  ClearCache: accepted,
  ClearChargingProfile: status('Unknown'), // no profiles are ever installed
  DataTransfer: accepted,
  DeleteCertificate: status('NotFound'),
  ExtendedTriggerMessage: triggerAnswer(TRIGGERABLE_V16),
  GetCompositeSchedule: (request) => ({
    status: 'Accepted',
    connectorId: intOr(isObject(request) ? request.connectorId : undefined, 0),
    scheduleStart: nowIso(),
    chargingSchedule: {
      duration: intOr(isObject(request) ? request.duration : undefined, 3600),
      chargingRateUnit: 'A',
      chargingSchedulePeriod: [{ startPeriod: 0, limit: 32 }],
    },
  }),
  GetConfiguration: (request) => {
    const keys: unknown = isObject(request) ? request.key : undefined;
    if (!Array.isArray(keys) || keys.length === 0) return { configurationKey: V16_CONFIGURATION.map((k) => ({ ...k })) };
    const configurationKey = [];
    const unknownKey = [];
    for (const key of keys) {
      const known = V16_CONFIGURATION.find((k) => k.key === key);
      if (known) configurationKey.push({ ...known });
      else unknownKey.push(String(key).slice(0, 50));
    }
    return { configurationKey, unknownKey };
  },
  GetDiagnostics: () => ({ fileName: 'diagnostics.log' }),
  GetInstalledCertificateIds: status('NotFound'),
  GetLocalListVersion: () => ({ listVersion: 0 }),
  GetLog: () => ({ status: 'Accepted', filename: 'charger.log' }),
  InstallCertificate: accepted,
  RemoteStartTransaction: accepted,
  RemoteStopTransaction: accepted,
  ReserveNow: accepted,
  Reset: accepted,
  SendLocalList: accepted,
  SetChargingProfile: accepted,
  SignedUpdateFirmware: accepted,
  TriggerMessage: triggerAnswer(TRIGGERABLE_V16),
  UnlockConnector: status('Unlocked'),
  UpdateFirmware: empty,
};

export const V201_ANSWERS: Readonly<Record<string, Answer>> = {
  CancelReservation: accepted,
  CertificateSigned: accepted,
  ChangeAvailability: accepted,
  ClearCache: accepted,
  ClearChargingProfile: status('Unknown'),
  ClearDisplayMessage: status('Unknown'),
  ClearVariableMonitoring: (request) => {
    const ids: unknown = isObject(request) ? request.id : undefined;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every(Number.isInteger)) {
      throw new CallError('FormatViolation', 'id must be a non-empty array of integers');
    }
    return { clearMonitoringResult: ids.map((id) => ({ id, status: 'NotFound' })) };
  },
  CostUpdated: empty,
  CustomerInformation: accepted,
  DataTransfer: accepted,
  DeleteCertificate: status('NotFound'),
  GetBaseReport: accepted,
  GetChargingProfiles: status('NoProfiles'),
  GetCompositeSchedule: (request) => {
    const evseId = intOr(isObject(request) ? request.evseId : undefined, 0);
    const duration = intOr(isObject(request) ? request.duration : undefined, 3600);
    const unit = isObject(request) && (request.chargingRateUnit === 'W' || request.chargingRateUnit === 'A') ? request.chargingRateUnit : 'A';
    return {
      status: 'Accepted',
      schedule: {
        evseId,
        duration,
        scheduleStart: nowIso(),
        chargingRateUnit: unit,
        chargingSchedulePeriod: [{ startPeriod: 0, limit: unit === 'A' ? 32 : 22000 }],
      },
    };
  },
  GetDisplayMessages: status('Unknown'),
  GetInstalledCertificateIds: status('NotFound'),
  GetLocalListVersion: () => ({ versionNumber: 0 }),
  GetLog: () => ({ status: 'Accepted', filename: 'charger.log' }),
  GetMonitoringReport: status('EmptyResultSet'),
  GetReport: status('EmptyResultSet'),
  GetTransactionStatus: () => ({ messagesInQueue: false }),
  GetVariables: (request) => ({
    getVariableResult: requireList(request, 'getVariableData', isVariableItem).map((item) => {
      const { component, variable } = item;
      const value = V201_VARIABLES.get(`${component.name}.${variable.name}`);
      const attributeType = attributeTypeOf(item);
      if (value === undefined) return { attributeStatus: 'UnknownVariable', attributeType, component, variable };
      if (attributeType !== 'Actual') return { attributeStatus: 'NotSupportedAttributeType', attributeType, component, variable };
      return { attributeStatus: 'Accepted', attributeType, attributeValue: value, component, variable };
    }),
  }),
  InstallCertificate: accepted,
  PublishFirmware: accepted,
  RequestStartTransaction: accepted,
  RequestStopTransaction: accepted,
  ReserveNow: accepted,
  Reset: accepted,
  SendLocalList: accepted,
  SetChargingProfile: accepted,
  SetDisplayMessage: accepted,
  SetMonitoringBase: accepted,
  SetMonitoringLevel: accepted,
  SetNetworkProfile: accepted,
  SetVariableMonitoring: (request) => {
    let nextId = 1;
    return {
      setMonitoringResult: requireList(request, 'setMonitoringData', isMonitorItem).map((item) => ({
        id: intOr(item.id, nextId++),
        status: 'Accepted',
        type: item.type,
        severity: item.severity,
        component: item.component,
        variable: item.variable,
      })),
    };
  },
  SetVariables: (request) => ({
    setVariableResult: requireList(request, 'setVariableData', isVariableItem).map((item) => ({
      attributeType: attributeTypeOf(item),
      attributeStatus: 'Accepted',
      component: item.component,
      variable: item.variable,
    })),
  }),
  TriggerMessage: triggerAnswer(TRIGGERABLE_V201),
  UnlockConnector: status('Unlocked'),
  UnpublishFirmware: status('NoFirmware'),
  UpdateFirmware: accepted,
};

/**
 * The default answer of a simulated charger to a central-system CALL. Throws CallError
 * `NotSupported` for an action of the version that only chargers send, `NotImplemented` for one
 * the version does not have at all.
 */
export function defaultAnswer(version: SimVersion, action: string, request: unknown): Record<string, unknown> {
  const table = version === 'ocpp1.6' ? V16_ANSWERS : V201_ANSWERS;
  const answer = Object.hasOwn(table, action) ? table[action] : undefined;
  if (answer) return answer(request);
  // A charger knows the actions it sends (the gateway's catalogue of them), but does not take them as CALLs.
  if (isActionAllowed(version, action, 'chargerToCentral')) throw new CallError('NotSupported', `${action} is sent by chargers, not to them`);
  throw new CallError('NotImplemented', `${action} is not known to this charger`);
}
