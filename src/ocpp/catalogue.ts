/**
 * Which actions each OCPP version defines, and who may send them.
 *
 * The lists are written out here (not derived from the schema files) so that a lookup never
 * touches the disk and a typo in either place shows up as a failing test: the catalogue and the
 * schema files must name exactly the same actions.
 */
import type { OcppVersion } from './versions.js';

/** Who sends the CALL: the charger (uplink) or the central system (downlink). */
export type Direction = 'chargerToCentral' | 'centralToCharger';

/** DataTransfer is the one action both sides may send in both versions. */
const BOTH_WAYS = 'DataTransfer';

const V16_UP = [
  'Authorize',
  'BootNotification',
  'DataTransfer',
  'DiagnosticsStatusNotification',
  'FirmwareStatusNotification',
  'Heartbeat',
  'MeterValues',
  'StartTransaction',
  'StatusNotification',
  'StopTransaction',
  // Security extension (OCPP 1.6 Security Whitepaper)
  'LogStatusNotification',
  'SecurityEventNotification',
  'SignCertificate',
  'SignedFirmwareStatusNotification',
];

const V16_DOWN = [
  'CancelReservation',
  'ChangeAvailability',
  'ChangeConfiguration',
  'ClearCache',
  'ClearChargingProfile',
  'DataTransfer',
  'GetCompositeSchedule',
  'GetConfiguration',
  'GetDiagnostics',
  'GetLocalListVersion',
  'RemoteStartTransaction',
  'RemoteStopTransaction',
  'ReserveNow',
  'Reset',
  'SendLocalList',
  'SetChargingProfile',
  'TriggerMessage',
  'UnlockConnector',
  'UpdateFirmware',
  // Security extension
  'CertificateSigned',
  'DeleteCertificate',
  'ExtendedTriggerMessage',
  'GetInstalledCertificateIds',
  'GetLog',
  'InstallCertificate',
  'SignedUpdateFirmware',
];

const V201_UP = [
  'Authorize',
  'BootNotification',
  'ClearedChargingLimit',
  'DataTransfer',
  'FirmwareStatusNotification',
  'Get15118EVCertificate',
  'GetCertificateStatus',
  'Heartbeat',
  'LogStatusNotification',
  'MeterValues',
  'NotifyChargingLimit',
  'NotifyCustomerInformation',
  'NotifyDisplayMessages',
  'NotifyEVChargingNeeds',
  'NotifyEVChargingSchedule',
  'NotifyEvent',
  'NotifyMonitoringReport',
  'NotifyReport',
  'PublishFirmwareStatusNotification',
  'ReportChargingProfiles',
  'ReservationStatusUpdate',
  'SecurityEventNotification',
  'SignCertificate',
  'StatusNotification',
  'TransactionEvent',
];

const V201_DOWN = [
  'CancelReservation',
  'CertificateSigned',
  'ChangeAvailability',
  'ClearCache',
  'ClearChargingProfile',
  'ClearDisplayMessage',
  'ClearVariableMonitoring',
  'CostUpdated',
  'CustomerInformation',
  'DataTransfer',
  'DeleteCertificate',
  'GetBaseReport',
  'GetChargingProfiles',
  'GetCompositeSchedule',
  'GetDisplayMessages',
  'GetInstalledCertificateIds',
  'GetLocalListVersion',
  'GetLog',
  'GetMonitoringReport',
  'GetReport',
  'GetTransactionStatus',
  'GetVariables',
  'InstallCertificate',
  'PublishFirmware',
  'RequestStartTransaction',
  'RequestStopTransaction',
  'ReserveNow',
  'Reset',
  'SendLocalList',
  'SetChargingProfile',
  'SetDisplayMessage',
  'SetMonitoringBase',
  'SetMonitoringLevel',
  'SetNetworkProfile',
  'SetVariableMonitoring',
  'SetVariables',
  'TriggerMessage',
  'UnlockConnector',
  'UnpublishFirmware',
  'UpdateFirmware',
];

interface VersionCatalogue {
  /** Each action's id (see `actionId`); its direction is its entry's. */
  readonly ids: ReadonlyMap<string, ActionId>;
  readonly lists: Record<Direction, readonly string[]>;
}

/**
 * A small number for each action of each version, from 0 to ACTION_COUNT - 1. What a layer works out once per action
 * (its metric cells, its validator, its answer) it keeps in an array indexed by it (`PerAction`), so a charger's CALL
 * has its action looked up by name once, when it arrives, instead of once per layer.
 */
export type ActionId = number;

/** The id of a name the version does not define. */
export const NOT_AN_ACTION: ActionId = -1;

/** What an id stands for. */
export interface ActionEntry {
  readonly id: ActionId;
  readonly version: OcppVersion;
  readonly action: string;
  readonly direction: Direction;
}

const ENTRIES: ActionEntry[] = [];

function build(version: OcppVersion, up: string[], down: string[]): VersionCatalogue {
  const direction = new Map<string, Direction>();
  for (const action of down) direction.set(action, 'centralToCharger');
  // Uplink wins, so the two-way DataTransfer reads as 'chargerToCentral'.
  for (const action of up) direction.set(action, 'chargerToCentral');
  const ids = new Map<string, ActionId>();
  for (const [action, dir] of direction) {
    ids.set(action, ENTRIES.length);
    ENTRIES.push(Object.freeze({ id: ENTRIES.length, version, action, direction: dir }));
  }
  return {
    ids,
    lists: {
      chargerToCentral: Object.freeze([...up].sort()),
      centralToCharger: Object.freeze([...down].sort()),
    },
  };
}

const CATALOGUE: Record<OcppVersion, VersionCatalogue> = {
  'ocpp1.6': build('ocpp1.6', V16_UP, V16_DOWN),
  'ocpp2.0.1': build('ocpp2.0.1', V201_UP, V201_DOWN),
};

/** How many ids there are: the length of a table indexed by them. */
export const ACTION_COUNT = ENTRIES.length;

/** The action's id in this version, or NOT_AN_ACTION when the version does not define it. */
export function actionId(version: OcppVersion, action: string): ActionId {
  return CATALOGUE[version].ids.get(action) ?? NOT_AN_ACTION;
}

/** The action an id stands for (ids come from `actionId`). */
export function actionEntry(id: ActionId): ActionEntry {
  const entry = ENTRIES[id];
  if (entry === undefined) throw new RangeError(`${id} is not an action id`);
  return entry;
}

/**
 * Who sends this action in this version; undefined when the version does not define it (answer
 * NotImplemented). DataTransfer, which both sides send, reads as 'chargerToCentral'; use
 * `isActionAllowed` to ask about one direction.
 */
export function actionDirection(version: OcppVersion, action: string): Direction | undefined {
  const id = CATALOGUE[version].ids.get(action);
  return id === undefined ? undefined : ENTRIES[id].direction;
}

/** Whether this action may be sent in this direction in this version (DataTransfer: both ways). */
export function isActionAllowed(version: OcppVersion, action: string, direction: Direction): boolean {
  const known = actionDirection(version, action);
  return known === direction || (known !== undefined && action === BOTH_WAYS);
}

/** Every action of this version sent in this direction, sorted by name. DataTransfer is in both. */
export function actionsOf(version: OcppVersion, direction: Direction): readonly string[] {
  return CATALOGUE[version].lists[direction];
}
