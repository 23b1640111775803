/** The admin API's shapes as the page reads them (see the OpenAPI document at /openapi.json). */

export type Protocol = 'ocpp1.6' | 'ocpp2.0.1';
export const PROTOCOLS: readonly Protocol[] = ['ocpp1.6', 'ocpp2.0.1'];

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  count: number;
}

export interface InstanceStats {
  connected: Record<Protocol, number>;
  messagesPerSecond: { inbound: Record<string, number>; outbound: Record<string, number> };
  callRoundTripMs: Percentiles;
  inboundCallMs?: Percentiles;
  callErrors: Record<string, number>;
  refusals: Record<string, number>;
  closes: { outbox: number; keepalive: number; other?: Record<string, number> };
}

export interface HistorySample {
  at: string;
  connected: Record<Protocol, number>;
  inboundPerSecond: number;
  outboundPerSecond: number;
}

export interface DashboardSnapshot {
  at: string;
  mode: 'embedded' | 'cluster';
  intervalMs: number;
  totals: InstanceStats;
  instances: Array<{ instance: string } & InstanceStats>;
  missingInstances: string[];
  history?: HistorySample[];
}

export interface BootInfo {
  at: string;
  status?: string;
  vendor?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
}

export interface ListedCharger {
  identity: string;
  protocol: Protocol;
  state: string;
  remoteAddress: string;
  securityProfile: number;
  connectedAt: string;
  lastSeen: string;
  boot: BootInfo | null;
  instance?: string;
  status?: string;
}

export interface ChargerPage {
  items: ListedCharger[];
  total: number;
  nextCursor?: string;
  partial?: boolean;
  missingInstances?: string[];
}

export interface ConnectorStatus {
  key: string;
  evseId: number | null;
  connectorId: number | null;
  status: string | null;
  errorCode: string | null;
  timestamp: string;
}

export interface OpenTransaction {
  transactionId: string;
  evseId: number | null;
  connectorId: number | null;
  idToken: { idToken: string; type: string } | null;
  startedAt: string | null;
  meterStart: number | null;
  updatedAt: string | null;
}

export interface SchemaRefusal {
  at: string;
  action: string;
  errorCode: string;
  paths: Array<{ path: string; keyword: string }>;
}

export interface RecordingStatus {
  chargePointId: string;
  instance?: string;
  active: boolean;
  startedAt: string;
  until: string;
  stoppedAt?: string;
  maxFrames: number;
  frames: number;
  droppedFrames: number;
  bytes: number;
}

export interface RecordedFrame {
  at: string;
  direction: 'in' | 'out';
  size: number;
  frame: string;
  truncated?: true;
}

export interface ChargerDetail extends ListedCharger {
  connectors: ConnectorStatus[];
  transactions: OpenTransaction[];
  refusals: SchemaRefusal[];
  compat?: { profile: string; reason: string; model?: { vendor?: string; model?: string } };
  recording?: RecordingStatus;
}

export interface CommandCatalogue {
  protocol: Protocol;
  commands: Array<{ action: string; requestSchema: Record<string, unknown> }>;
}

export interface CommandResult {
  commandId: string;
  chargePointId: string;
  action: string;
  status: 'completed';
  response: Record<string, unknown>;
  durationMs: number;
}

/** The envelope of every event on /api/v1/events. */
export interface GatewayEvent {
  eventId: string;
  eventType: string;
  chargePointId: string;
  gatewayId: string;
  timestamp: string;
  protocol: Protocol;
  payload: Record<string, unknown>;
}

export interface ApiErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}
