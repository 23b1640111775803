import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { HotCounter, HotGauge, HotHistogram } from './hot-metrics.js';

/**
 * The gateway's Prometheus metrics. Labels are low-cardinality on purpose (protocol, action, code, outcome):
 * never a charger identity, so 20,000 chargers cost 20,000 nothing in the scrape.
 * Each gateway instance has its own registry so several can live in one process (tests, embedding).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = { registers: [registry] };
  return {
    registry,
    // The metrics counted at every connection and disconnect (and, in cluster mode, at every takeover wait and
    // release) are cells (hot-metrics.ts): a reconnect storm counts several per connection, and prom-client hashes
    // the label set on each count.
    connections: new HotGauge('ocpp_connections', 'Open charger connections', ['protocol'], registry),
    connectionAttempts: new HotCounter(
      'ocpp_connection_attempts_total',
      'WebSocket upgrade attempts by outcome: accepted; no_subprotocol (completed, then closed 1002); refused by the gateway: ' +
        'bad_path (404), bad_identity (400), over_capacity (503), draining (503), not_registered (503, cluster mode: ownership registration lapsed); ' +
        'refused by admission limits: too_many_handshakes (503 at accept), too_many_handshakes_tls (TLS connection dropped unread), address_rate (503), overall_rate (503); ' +
        'refused by authentication: auth_missing, auth_malformed, auth_failed, username_mismatch (401), profile_too_low, certificate_untrusted, ' +
        'certificate_mismatch, protocol_not_allowed (403), unknown_identity (404), throttled_identity, throttled_address (429), ' +
        'credentials_unavailable, auth_busy (503), auth_error (500); refused by the WebSocket handshake itself: ' +
        'bad_method (405), bad_upgrade_header, bad_key, bad_version, bad_subprotocol_header, bad_extensions_header, bad_handshake (400)',
      ['outcome'],
      registry,
    ),
    securityProfiles: new HotCounter(
      'ocpp_security_profile_connections_total',
      'Accepted charger connections by the OCPP security profile they proved (0: none, 1: Basic, 2: TLS + Basic, 3: client certificate)',
      ['profile'],
      registry,
    ),
    tlsReloads: new Counter({
      name: 'ocpp_tls_reloads_total',
      help: "Reloads of the chargers' TLS certificate, key and CA by result (ok; failed: the previous material stays in use)",
      labelNames: ['result'],
      ...r,
    }),
    tlsClientErrors: new Counter({
      name: 'ocpp_tls_client_errors_total',
      help: "TLS handshakes on the chargers' port that failed, by reason: reset, protocol_version, no_shared_cipher, timeout, bad_handshake, other",
      labelNames: ['reason'],
      ...r,
    }),
    disconnects: new HotCounter('ocpp_disconnects_total', 'Charger disconnects by cause', ['cause'], registry),
    takeoverWaits: new HotCounter(
      'ocpp_takeover_waits_total',
      'New connections that waited to show life before taking over their identity (one with an open session; in cluster mode every one), by how the wait ended: ' +
        'life (it sent a frame, ping or pong, and took over), grace (silent for server.takeoverGraceMs, took over), ' +
        'abandoned (it ended first; the open session stayed), superseded (a newer connection had taken over)',
      ['outcome'],
      registry,
    ),
    messages: new HotCounter(
      'ocpp_messages_total',
      'OCPP messages by direction (in/out), message type (call, result, error) and action',
      ['direction', 'type', 'action'],
      registry,
    ),
    malformedFrames: new Counter({
      name: 'ocpp_malformed_frames_total',
      help: 'Inbound frames that could not be handled as OCPP-J, by problem',
      labelNames: ['problem'],
      ...r,
    }),
    callErrorsSent: new HotCounter('ocpp_callerrors_sent_total', 'CALLERRORs sent to chargers by code', ['code'], registry),
    callErrorsReceived: new Counter({ name: 'ocpp_callerrors_received_total', help: 'CALLERRORs received from chargers by code', labelNames: ['code'], ...r }),
    validationFailures: new Counter({
      name: 'ocpp_validation_failures_total',
      help: 'Payloads that broke their OCPP schema, by action, direction and the mode that applied',
      labelNames: ['action', 'direction', 'mode'],
      ...r,
    }),
    unmatchedResponses: new Counter({
      name: 'ocpp_unmatched_responses_total',
      help: 'CALLRESULT/CALLERROR from chargers with an id nobody waits for, by kind (late after a timeout, or unknown)',
      labelNames: ['kind'],
      ...r,
    }),
    callDuration: new HotHistogram(
      'ocpp_call_duration_seconds',
      'Round trip of CALLs: inbound (gateway answer time) and outbound (charger answer time), by action',
      ['direction', 'action'],
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registry,
    ),
    outboundCallTimeouts: new Counter({ name: 'ocpp_call_timeouts_total', help: 'CALLs to chargers that got no answer in time', labelNames: ['action'], ...r }),
    outboxQueued: new Gauge({ name: 'ocpp_outbox_queued_frames', help: 'Frames waiting in all outboxes for their socket to drain', ...r }),
    backpressureCloses: new Counter({ name: 'ocpp_backpressure_closes_total', help: 'Chargers closed because they stopped reading and their outbox filled', ...r }),
    framesDiscarded: new Counter({
      name: 'ocpp_frames_discarded_total',
      help: 'Frames that could not be written because their connection was already closing or closed',
      ...r,
    }),
    keepaliveTerminations: new Counter({ name: 'ocpp_keepalive_terminations_total', help: 'Chargers terminated for not answering pings', ...r }),
    inboundCallsRejected: new Counter({
      name: 'ocpp_inbound_calls_rejected_total',
      help: 'Charger CALLs refused because the charger had too many CALLs in flight',
      ...r,
    }),
    inboundCallsRateLimited: new Counter({
      name: 'ocpp_inbound_calls_rate_limited_total',
      help: 'Charger CALLs answered GenericError for exceeding the per-charger rate (ocpp.inboundRate); chargers closed for it are disconnects{cause="rate_limited"}',
      ...r,
    }),
    handshakesInFlight: new HotGauge(
      'ocpp_handshakes_in_flight',
      'Charger connections accepted and not yet upgraded, refused or closed (server.admission.maxHandshakes bounds it)',
      [],
      registry,
    ),
    handshakeDuration: new HotHistogram(
      'ocpp_handshake_seconds',
      'Time a charger connection spent as a handshake in the gateway: from the TCP accept until its upgrade (outcome="upgraded") or until it closed without one (outcome="closed"); those turned away at the accept by maxHandshakes are not counted',
      ['outcome'],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registry,
    ),
    admissionTrackedAddresses: new HotGauge(
      'ocpp_admission_tracked_addresses',
      'Source addresses whose upgrade rate is tracked (server.admission.maxTrackedAddresses bounds it)',
      [],
      registry,
    ),
    eventPublishDuration: new HotHistogram(
      'gateway_event_publish_seconds',
      'Time until the bus acknowledged an event, by event type family',
      ['family'],
      [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registry,
    ),
    eventsUnheard: new HotCounter(
      'gateway_events_unheard_total',
      'Events not built because nothing on the embedded bus listened to their subject, by event type family (what the charger reported is remembered all the same)',
      ['family'],
      registry,
    ),
    eventPublishFailures: new Counter({
      name: 'gateway_event_publish_failures_total',
      help: 'Events the bus did not acknowledge, by event type family',
      labelNames: ['family'],
      ...r,
    }),
    backendRequests: new HotCounter(
      'gateway_backend_requests_total',
      'Charger CALLs referred to the backend, by action and outcome (answered, no_backend, timeout, invalid, error)',
      ['action', 'outcome'],
      registry,
    ),
    chargersRemembered: new HotGauge(
      'gateway_chargers_remembered',
      'Chargers whose boot, connectors and transactions the gateway remembers (connected or gone less than chargers.forgetAfterMs)',
      [],
      registry,
    ),
    answersUndelivered: new Counter({
      name: 'gateway_answers_undelivered_total',
      help: 'Charger CALLs whose answer was ready only after the charger had disconnected: not sent, and their events not published',
      labelNames: ['action'],
      ...r,
    }),
    startTransactionRetries: new Counter({
      name: 'gateway_start_transaction_retries_total',
      help: 'Retried 1.6 StartTransactions answered with the first answer (same transactionId)',
      ...r,
    }),
    uncaughtErrors: new Counter({
      name: 'gateway_uncaught_errors_total',
      help: 'Errors caught by the last-resort process guard (kind: uncaughtException, unhandledRejection); any is a bug',
      labelNames: ['kind'],
      ...r,
    }),
    ownershipClaimFailures: new Counter({
      name: 'gateway_ownership_claim_failures_total',
      help: 'Cluster mode: charger connections closed with 1013 because their identity could not be claimed in Redis',
      ...r,
    }),
    ownershipLapses: new Counter({
      name: 'gateway_ownership_lapses_total',
      help: 'Cluster mode: times this instance lost its registration in Redis and closed every charger with 1012',
      ...r,
    }),
    ownershipReleases: new HotCounter(
      'gateway_ownership_releases_total',
      'Cluster mode: claims given back when a connection closed, by outcome (released; not_held: a newer connection holds it; failed)',
      ['outcome'],
      registry,
    ),
    evictions: new Counter({
      name: 'gateway_cluster_evictions_total',
      help: 'Cluster mode: requests to the previous owner instance to close a replaced connection, by outcome',
      labelNames: ['outcome'],
      ...r,
    }),
    commandForwards: new Counter({
      name: 'gateway_cluster_command_forwards_total',
      help: 'Cluster mode: commands forwarded to the instance holding the charger, by outcome',
      labelNames: ['outcome'],
      ...r,
    }),
    commands: new Counter({
      name: 'gateway_commands_total',
      help: 'Backend commands to chargers by action and outcome (completed or the error code)',
      labelNames: ['action', 'outcome'],
      ...r,
    }),
    recorderFrames: new Counter({
      name: 'gateway_recorder_frames_total',
      help: 'Frames the flight recorder kept (both directions, every recorded charger)',
      ...r,
    }),
    recorderActive: new Gauge({ name: 'gateway_recorder_recordings_active', help: 'Chargers the flight recorder records now', ...r }),
    recorderBytes: new Gauge({
      name: 'gateway_recorder_bytes',
      help: 'Bytes of frames the flight recorder holds, recordings kept for download included (recorder.maxTotalBytes bounds it)',
      ...r,
    }),
    compatProfileChargers: new HotGauge(
      'gateway_compat_profile_chargers',
      'Connected chargers by the compatibility profile that applies to them (README "Compatibility profiles")',
      ['profile'],
      registry,
    ),
    compatTolerancesApplied: new Counter({
      name: 'gateway_compat_tolerances_applied_total',
      help: "Charger messages a compatibility profile's tolerance changed or let through, by profile and tolerance",
      labelNames: ['profile', 'tolerance'],
      ...r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The metrics of the primary process when WORKERS > 1: it runs no gateway, only the workers. Rendered after the
 * workers' summed metrics in every scrape (their names are the primary's own, so nothing is summed twice).
 */
export function createPrimaryMetrics() {
  const registry = new Registry();
  const r = { registers: [registry] };
  return {
    registry,
    workerRestarts: new Counter({
      name: 'gateway_worker_restarts_total',
      help: 'Worker processes restarted after they died, by cause (signal: killed by one; exit: exited by themselves)',
      labelNames: ['cause'],
      ...r,
    }),
    workersReady: new Gauge({ name: 'gateway_workers_ready', help: 'Worker processes whose gateway accepts chargers', ...r }),
  };
}

export type PrimaryMetrics = ReturnType<typeof createPrimaryMetrics>;
