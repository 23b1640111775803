import type { ConnectorStatusEntry, OpenTransaction } from '../events/connector-memory.js';
import type { RecordingStatus } from '../gateway/flight-recorder.js';
import type { ChargerSession } from '../gateway/session.js';

/** What the API shows of a connected charger; times as ISO-8601 strings. */
export interface ChargePointView {
  identity: string;
  protocol: string;
  state: string;
  remoteAddress: string;
  /** The OCPP security profile the connection proved: 0 none, 1 Basic auth, 2 TLS + Basic auth, 3 client certificate. */
  securityProfile: number;
  connectedAt: string;
  lastSeen: string;
  /** Connector (1.6) or EVSE (2.0.1) 0's last status when it reported one, else the last status of any connector. */
  status?: string;
  boot: {
    at: string;
    status?: string;
    vendor?: string;
    model?: string;
    serialNumber?: string;
    firmwareVersion?: string;
  } | null;
}

export interface ChargePointDetailView extends ChargePointView {
  /** The flight recorder's recording of this charger, when there is one. */
  recording?: RecordingStatus;
  connectors: ConnectorStatusEntry[];
  transactions: OpenTransaction[];
  /** The last CALLs the schema refused, oldest first: why a charger never registers, at a glance. */
  refusals: Array<{ at: string; action: string; errorCode: string; paths: Array<{ path: string; keyword: string }> }>;
  /** Its compatibility profile and why it has it. */
  compat?: { profile: string; reason: string; model?: { vendor?: string; model?: string } };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function chargePointView(session: ChargerSession): ChargePointView {
  // The charger's memory, not the connection: a reconnect without a BootNotification keeps the last boot.
  const boot = session.charger.boot;
  const status = chargerStatus(session.charger.connectors.statuses());
  return {
    identity: session.identity,
    protocol: session.protocol,
    state: session.state,
    remoteAddress: session.remoteAddress,
    securityProfile: session.securityProfile,
    connectedAt: iso(session.connectedAt),
    lastSeen: iso(session.lastSeenAt),
    ...(status !== undefined ? { status } : {}),
    boot:
      boot === undefined
        ? null
        : {
            at: iso(boot.at),
            status: boot.status,
            vendor: boot.vendor,
            model: boot.model,
            serialNumber: boot.serialNumber,
            firmwareVersion: boot.firmwareVersion,
          },
  };
}

/**
 * One word for the whole charger: what connector 0 (1.6) or EVSE 0 (2.0.1), which stand for the charger itself,
 * last reported; without such a report, the last status any connector reported.
 */
export function chargerStatus(entries: readonly ConnectorStatusEntry[]): string | undefined {
  let latest: string | undefined;
  // Least recently reported first: the last one seen is the latest.
  for (const entry of entries) {
    if (entry.status === null) continue;
    if (entry.evseId === 0 || (entry.evseId === null && entry.connectorId === 0)) return entry.status;
    latest = entry.status;
  }
  return latest;
}

/** The summary plus what the charger last reported about its connectors and transactions. */
export function chargePointDetailView(session: ChargerSession, recording?: RecordingStatus): ChargePointDetailView {
  const memory = session.charger.connectors;
  return {
    ...chargePointView(session),
    ...(recording !== undefined ? { recording } : {}),
    connectors: sortedConnectors(memory.statuses()),
    transactions: memory.openTransactions(),
    refusals: session.charger.refusals.map((r) => ({ at: iso(r.at), action: r.action, errorCode: r.errorCode, paths: r.paths })),
    ...compatView(session),
  };
}

function compatView(session: ChargerSession): Pick<ChargePointDetailView, 'compat'> {
  const choice = session.compat;
  if (choice === undefined) return {};
  const model = choice.reason === 'model' ? (session.charger.compatModel ?? session.charger.boot) : undefined;
  return {
    compat: {
      profile: choice.profile.name,
      reason: choice.reason,
      ...(model !== undefined ? { model: { vendor: model.vendor, model: model.model } } : {}),
    },
  };
}

/** Connector order for people: by EVSE, then connector (the memory keeps them by recency). */
function sortedConnectors(entries: ConnectorStatusEntry[]): ConnectorStatusEntry[] {
  return entries.sort((a, b) => (a.evseId ?? -1) - (b.evseId ?? -1) || (a.connectorId ?? -1) - (b.connectorId ?? -1) || (a.key < b.key ? -1 : 1));
}
