import type { ConnectorStatusEntry, OpenTransaction } from '../events/connector-memory.js';
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
  return {
    identity: session.identity,
    protocol: session.protocol,
    state: session.state,
    remoteAddress: session.remoteAddress,
    securityProfile: session.securityProfile,
    connectedAt: iso(session.connectedAt),
    lastSeen: iso(session.lastSeenAt),
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

/** The summary plus what the charger last reported about its connectors and transactions. */
export function chargePointDetailView(session: ChargerSession): ChargePointDetailView {
  const memory = session.charger.connectors;
  return {
    ...chargePointView(session),
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
