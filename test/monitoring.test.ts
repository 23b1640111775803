/**
 * The shipped monitoring (monitoring/prometheus/alerts.yml and monitoring/grafana/ocpp-gateway.json) against the
 * metrics the gateway really exports. Real gateway processes are scraped over HTTP: one embedded, and a cluster
 * of two instances (one of them WORKERS=2) on a NATS (JetStream) and a Redis of this test's own. Chargers,
 * commands and a NATS stall make the labelled series appear, so the label names queries rely on are read from
 * real samples.
 *
 * The static checks (rule fields, durations, SLO coverage, runbook sections, dashboard layout) need no server.
 * Without the nats-server or redis-server binaries the scrape checks are skipped with the reason; with CI=true
 * they fail.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { postCall, readMetrics } from './helpers/backend-http.js';
import { type ServerProcess, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { natsServerBinarySkipReason, OwnNatsServer } from './helpers/nats-server.js';
import { type Frame, OcppClient } from './helpers/ocpp-client.js';
import { type Exposition, emptyExposition, readExposition } from './helpers/prometheus-text.js';
import { type PromqlReferences, references } from './helpers/promql.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ALERTS_FILE = join(REPO_ROOT, 'monitoring', 'prometheus', 'alerts.yml');
const DASHBOARD_FILE = join(REPO_ROOT, 'monitoring', 'grafana', 'ocpp-gateway.json');
const DOCS_FILE = join(REPO_ROOT, 'docs', 'monitoring.md');

/** Labels Prometheus attaches to every scraped series from the target, never present in the exposition itself. */
const TARGET_LABELS = new Set(['instance', 'job']);
/** Series Prometheus makes for every scrape target; the gateway cannot export them. */
const SCRAPE_SERIES = new Set(['up']);

/** The service-level targets the rules must cover, and the metric each one's rule must read. */
const SLO_METRICS: Record<string, string[]> = {
  connections_dropped: ['ocpp_connections', 'ocpp_disconnects_total'],
  callerror_rate: ['ocpp_callerrors_sent_total', 'ocpp_callerrors_received_total'],
  call_round_trip_p99: ['ocpp_call_duration_seconds_bucket'],
  event_publish_failures: ['gateway_event_publish_failures_total'],
  outbox_closes: ['ocpp_backpressure_closes_total'],
};

/** What every panel and target queries: Grafana's data source variable, written literally in the JSON. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
const PROMETHEUS_DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

/** Prometheus's duration syntax (units in descending order, each at most once), not zero-length. */
const DURATION = /^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$/;

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

interface Query {
  /** Where it comes from, for failure messages: `rule OcppGatewayDown` or `panel "CPU" target A`. */
  where: string;
  expr: string;
  refs: PromqlReferences;
}

// biome-ignore lint/suspicious/noExplicitAny: the dashboard is free-form JSON, read field by field below
type Json = any;

function loadRules(): Array<{ group: string; rule: Rule }> {
  const doc = parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups?: Array<{ name?: unknown; rules?: Rule[] }> };
  assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'alerts.yml has rule groups');
  return doc.groups.flatMap((g) => {
    assert.equal(typeof g.name, 'string', 'every group has a name');
    assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `group ${String(g.name)} has rules`);
    return g.rules.map((rule) => ({ group: g.name as string, rule }));
  });
}

function loadDashboard(): Json {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

/** Every panel, rows' nested panels included (a collapsed row holds its panels itself). */
function allPanels(dashboard: Json): Json[] {
  return (dashboard.panels as Json[]).flatMap((p) => [p, ...((p.panels as Json[] | undefined) ?? [])]);
}

/**
 * Grafana's variables made into plain PromQL: intervals become a duration, other variables (used in matcher
 * values, e.g. `instance=~"$instance"`) a match-all regex. Anything Grafana would expand is expanded here.
 */
function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(?:rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{[a-zA-Z_][a-zA-Z0-9_]*(?::[a-z]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[a-zA-Z_][a-zA-Z0-9_]*\]\]/g, '.*');
}

function ruleQueries(): Query[] {
  return loadRules().map(({ rule }) => ({ where: `rule ${String(rule.alert)}`, expr: String(rule.expr), refs: references(String(rule.expr)) }));
}

function dashboardQueries(): Query[] {
  const queries: Query[] = [];
  for (const panel of allPanels(loadDashboard())) {
    for (const target of (panel.targets as Json[] | undefined) ?? []) {
      const expr = expandGrafanaVariables(String(target.expr));
      queries.push({ where: `panel "${panel.title}" target ${target.refId}`, expr, refs: references(expr) });
    }
  }
  return queries;
}

/** The `label_values(metric, label)` queries of the dashboard's template variables. */
function templateMetricQueries(dashboard: Json): Array<{ name: string; metric: string; label: string }> {
  return (dashboard.templating.list as Json[])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const text = typeof v.query === 'string' ? v.query : v.query.query;
      const match = /^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(text);
      assert.ok(match, `variable ${v.name}: label_values(metric, label), got ${text}`);
      return { name: v.name, metric: match[1], label: match[2] };
    });
}

/** The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces to dashes. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

describe('alert rules: shape, syntax and service-level coverage', () => {
  const rules = loadRules();

  test('every rule has a unique alert name, an expr, a valid for, a severity, a summary and a description', () => {
    const names = new Set<string>();
    for (const { group, rule } of rules) {
      const name = rule.alert;
      assert.ok(typeof name === 'string' && /^[A-Z][A-Za-z0-9]+$/.test(name), `group ${group}: alert name ${String(name)}`);
      assert.ok(!names.has(name), `alert ${name} is defined once`);
      names.add(name);
      assert.ok(typeof rule.expr === 'string' && rule.expr.trim() !== '', `${name}: expr`);
      assert.ok(typeof rule.for === 'string' && rule.for !== '' && DURATION.test(rule.for), `${name}: for is a Prometheus duration, got ${String(rule.for)}`);
      assert.ok(['critical', 'warning', 'info'].includes(String(rule.labels?.severity)), `${name}: labels.severity, got ${String(rule.labels?.severity)}`);
      for (const field of ['summary', 'description']) {
        const text = rule.annotations?.[field];
        assert.ok(typeof text === 'string' && text.trim().length > 10, `${name}: annotations.${field}`);
      }
      const known = new Set(['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for']);
      for (const key of Object.keys(rule)) assert.ok(known.has(key), `${name}: unknown field ${key}`);
    }
  });

  test('every expr is balanced PromQL with known functions only', () => {
    for (const { rule } of rules) {
      assert.doesNotThrow(() => references(String(rule.expr)), `${String(rule.alert)}: ${String(rule.expr)}`);
      assert.ok(references(String(rule.expr)).selectors.length > 0, `${String(rule.alert)} reads some metric`);
    }
  });

  test('each service-level target named by the issue has a rule that reads its metric', () => {
    for (const [slo, metrics] of Object.entries(SLO_METRICS)) {
      const covering = rules.filter(({ rule }) => rule.labels?.slo === slo);
      assert.ok(covering.length > 0, `a rule with labels.slo=${slo}`);
      for (const { rule } of covering) {
        const read = references(String(rule.expr)).selectors.map((s) => s.metric);
        assert.ok(
          read.some((m) => metrics.includes(m)),
          `${String(rule.alert)} (slo ${slo}) reads one of ${metrics.join(', ')}; it reads ${read.join(', ')}`,
        );
      }
    }
    const p99 = rules.filter(({ rule }) => rule.labels?.slo === 'call_round_trip_p99');
    assert.ok(
      p99.every(({ rule }) => String(rule.expr).includes('histogram_quantile(0.99,')),
      'the round-trip rules take the 99th percentile',
    );
    const labelled = new Set(rules.map(({ rule }) => rule.labels?.slo).filter((s) => s !== undefined));
    assert.deepEqual([...labelled].sort(), Object.keys(SLO_METRICS).sort(), 'no rule names an slo the list does not know');
  });

  test('every description ends with a runbook link to a section of docs/monitoring.md that exists', () => {
    const docs = readFileSync(DOCS_FILE, 'utf8');
    const anchors = new Set([...docs.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchorOf(m[1])));
    for (const { rule } of rules) {
      const name = String(rule.alert);
      const link = /Runbook: docs\/monitoring\.md#([a-z0-9-]+)\s*$/.exec(String(rule.annotations?.description));
      assert.ok(link, `${name}: description ends with "Runbook: docs/monitoring.md#..."`);
      assert.equal(link[1], name.toLowerCase(), `${name}: the runbook anchor is the alert's own section`);
      assert.ok(anchors.has(link[1]), `docs/monitoring.md has a section "${name}"`);
    }
  });
});

describe('Grafana dashboard: importable and filtered by instance', () => {
  const dashboard = loadDashboard();

  test('it declares the DS_PROMETHEUS input and variable, an instance variable, and a recent schema', () => {
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
    assert.equal(typeof dashboard.uid, 'string');
    assert.equal(typeof dashboard.title, 'string');
    assert.deepEqual(
      (dashboard.__inputs as Json[]).map((i) => [i.name, i.type, i.pluginId]),
      [['DS_PROMETHEUS', 'datasource', 'prometheus']],
    );
    const variables = new Map((dashboard.templating.list as Json[]).map((v) => [v.name, v]));
    assert.equal(variables.get('DS_PROMETHEUS')?.type, 'datasource');
    assert.equal(variables.get('DS_PROMETHEUS')?.query, 'prometheus');
    assert.equal(variables.get('instance')?.type, 'query');
    assert.deepEqual(variables.get('instance')?.datasource, PROMETHEUS_DATASOURCE);
    assert.deepEqual(
      templateMetricQueries(dashboard).map((q) => [q.name, q.label]),
      [['instance', 'instance']],
    );
  });

  test('panels have unique ids, fit the 24-column grid and query the DS_PROMETHEUS data source', () => {
    const ids = new Set<number>();
    for (const panel of allPanels(dashboard)) {
      assert.ok(Number.isInteger(panel.id) && !ids.has(panel.id), `panel "${panel.title}" has a unique id`);
      ids.add(panel.id);
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `panel "${panel.title}" fits the grid: ${JSON.stringify(panel.gridPos)}`);
      if (panel.type === 'row') continue;
      assert.ok(typeof panel.description === 'string' && panel.description.length > 0, `panel "${panel.title}" says what it shows`);
      assert.deepEqual(panel.datasource, PROMETHEUS_DATASOURCE, `panel "${panel.title}" data source`);
      const refIds = (panel.targets as Json[]).map((t) => t.refId);
      assert.ok(refIds.length > 0 && new Set(refIds).size === refIds.length, `panel "${panel.title}" targets have distinct refIds`);
      for (const target of panel.targets as Json[]) assert.deepEqual(target.datasource, panel.datasource, `panel "${panel.title}" target ${target.refId}`);
    }
  });

  test('every query is balanced PromQL once variables expand, and every selector is filtered by $instance', () => {
    for (const query of dashboardQueries()) {
      assert.ok(query.refs.selectors.length > 0, `${query.where} reads some metric`);
      for (const selector of query.refs.selectors) {
        assert.ok(selector.matcherLabels.includes('instance'), `${query.where}: ${selector.metric} is filtered by instance=~"$instance"`);
      }
    }
  });
});

const skipScrape = (await natsServerBinarySkipReason()) || (await ownRedisSkipReason());

describe('the monitoring reads only what the gateway exports', { skip: skipScrape }, () => {
  const exported: Exposition = emptyExposition();
  const processes: ServerProcess[] = [];
  const clients: OcppClient[] = [];
  let nats: OwnNatsServer | undefined;
  let redis: OwnRedis | undefined;

  /** The next CALL of `action` the gateway sends this client (other frames in between are left out). */
  async function nextCall(client: OcppClient, action: string): Promise<Frame> {
    for (;;) {
      const frame = await client.nextFrame(10_000);
      if (frame[0] === 2 && frame[2] === action) return frame;
    }
  }

  async function startAdmin(env: Record<string, string> = {}): Promise<{ admin: string; chargers: string }> {
    const proc = await startServerProcess({ env });
    processes.push(proc);
    return { admin: `http://127.0.0.1:${proc.adminPort}`, chargers: `${proc.url}/ocpp` };
  }

  /** A charger's everyday traffic plus the ways it goes wrong, so the labelled series of an instance get samples. */
  async function exerciseCharger(gateway: { admin: string; chargers: string }, identity: string): Promise<void> {
    const charger = await OcppClient.connectRetrying503(gateway.chargers, identity);
    clients.push(charger);
    assert.equal((await charger.call('BootNotification', { chargePointVendor: 'Mon', chargePointModel: 'Itor' }))[0], 3);
    assert.equal((await charger.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' }))[0], 3);
    // A payload that breaks its schema and an action OCPP does not have: CALLERRORs by code, a validation failure.
    assert.equal((await charger.call('StatusNotification', { connectorId: 'one' }))[0], 4);
    assert.equal((await charger.call('MadeUpAction', {}))[0], 4);
    // A frame that is not OCPP-J (a CALL without its payload).
    charger.sendRaw('[2,"mon-malformed","Heartbeat"]');
    assert.equal((await charger.nextFrame())[0], 4);

    // A command the charger answers, one it refuses with a CALLERROR, one it leaves unanswered.
    const answered = postCall(gateway.admin, identity, { action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Operative' } });
    const call = await nextCall(charger, 'ChangeAvailability');
    charger.sendRaw(JSON.stringify([3, call[1], { status: 'Accepted' }]));
    assert.equal((await answered).status, 200);
    const refused = postCall(gateway.admin, identity, { action: 'ClearCache', payload: {} });
    const refusedCall = await nextCall(charger, 'ClearCache');
    charger.sendRaw(JSON.stringify([4, refusedCall[1], 'NotSupported', 'not on this firmware', {}]));
    const refusal = await refused;
    assert.equal(refusal.status, 502, "a command the charger refuses is the charger's error");
    assert.equal(refusal.body.error.code, 'CALL_ERROR');
    const unanswered = await postCall(gateway.admin, identity, { action: 'ClearCache', payload: {}, timeoutMs: 300 });
    assert.equal(unanswered.status, 504, 'a command nobody answers times out');
    assert.equal(unanswered.body.error.code, 'TIMEOUT');
    await nextCall(charger, 'ClearCache');
  }

  before(async () => {
    const embedded = await startAdmin();
    await exerciseCharger(embedded, 'MON-EMBEDDED');
    const leaving = clients.pop() as OcppClient;
    // The same charger again: its new connection answers the gateway's ping and then replaces the first.
    const again = await OcppClient.connectRetrying503(embedded.chargers, 'MON-EMBEDDED');
    assert.equal((await leaving.closed).code, 4000, 'the first connection is replaced');
    await again.close();

    nats = await OwnNatsServer.start();
    redis = await OwnRedis.start();
    const cluster = { NATS_URL: nats.url, REDIS_URL: `redis://127.0.0.1:${redis.port}`, NATS_ACK_TIMEOUT_MS: '500' };
    const a = await startAdmin({ ...cluster, POD_ID: 'mon-a' });
    // Two worker processes behind instance B: the workers' metrics are exported only then.
    const b = await startAdmin({ ...cluster, POD_ID: 'mon-b', WORKERS: '2' });
    await exerciseCharger(a, 'MON-CLUSTER');
    // A command through the other instance is forwarded; the same charger connecting to it evicts the first.
    const forwarded = postCall(b.admin, 'MON-CLUSTER', { action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Operative' } });
    const first = clients.at(-1) as OcppClient;
    const call = await nextCall(first, 'ChangeAvailability');
    first.sendRaw(JSON.stringify([3, call[1], { status: 'Accepted' }]));
    assert.equal((await forwarded).status, 200);
    const second = await OcppClient.connectRetrying503(b.chargers, 'MON-CLUSTER');
    clients.push(second);
    assert.equal((await first.closed).code, 4000, 'the older connection is replaced');

    // A stalled NATS leaves an event unacknowledged: a publish failure.
    await nats.pause();
    try {
      assert.equal((await second.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' }, { timeoutMs: 10_000 }))[0], 4);
    } finally {
      nats.resume();
    }
    await second.close();
    const text = async (admin: string) => readMetrics(admin);
    await waitUntil(async () => /gateway_ownership_releases_total\{outcome="released"\} [1-9]/.test(await text(b.admin)), 10_000, 'the release of MON-CLUSTER');

    for (const gateway of [embedded, a, b]) readExposition(await readMetrics(gateway.admin), exported);
  });

  after(async () => {
    for (const client of clients) client.terminate();
    await Promise.all(processes.map((p) => p.stop()));
    await redis?.stop();
    await nats?.dispose();
  });

  const queries = (): Query[] => [...ruleQueries(), ...dashboardQueries()];

  test('the scrape holds the families the gateway defines, with samples for the labelled ones the checks need', () => {
    for (const family of ['ocpp_connections', 'ocpp_call_duration_seconds', 'gateway_event_publish_failures_total', 'gateway_cluster_evictions_total']) {
      assert.ok(exported.types.has(family), `${family} is exported`);
    }
    assert.deepEqual([...(exported.labels.get('ocpp_call_duration_seconds_bucket') ?? [])].sort(), ['action', 'direction', 'le']);
    assert.deepEqual([...(exported.labels.get('gateway_event_publish_failures_total') ?? [])], ['family']);
  });

  test('every metric a rule or panel reads is exported by the embedded or the cluster gateway', () => {
    const dashboard = loadDashboard();
    const missing: string[] = [];
    for (const query of queries()) {
      for (const { metric } of query.refs.selectors) {
        if (!exported.names.has(metric) && !SCRAPE_SERIES.has(metric)) missing.push(`${query.where}: ${metric}`);
      }
    }
    for (const variable of templateMetricQueries(dashboard)) {
      if (!exported.names.has(variable.metric)) missing.push(`variable ${variable.name}: ${variable.metric}`);
    }
    assert.deepEqual(missing, []);
  });

  test('every label a matcher or grouping names exists on the metric in the scrape', () => {
    const wrong: string[] = [];
    const carries = (metric: string, label: string) => TARGET_LABELS.has(label) || (!SCRAPE_SERIES.has(metric) && (exported.labels.get(metric)?.has(label) ?? false));
    for (const query of queries()) {
      for (const { metric, matcherLabels } of query.refs.selectors) {
        for (const label of matcherLabels) if (!carries(metric, label)) wrong.push(`${query.where}: ${metric} has no label ${label}`);
      }
      for (const grouping of query.refs.groupings) {
        for (const label of grouping.labels) {
          const on = grouping.metrics.filter((m) => carries(m, label));
          const ok = grouping.mustBeOn === 'all' ? on.length === grouping.metrics.length : on.length > 0;
          if (!ok) wrong.push(`${query.where}: ${grouping.clause}(${label}) is not on ${grouping.metrics.filter((m) => !on.includes(m)).join(', ')}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("every one of the gateway's own metric families has a place on the dashboard", () => {
    const read = new Set(dashboardQueries().flatMap((q) => q.refs.selectors.map((s) => s.metric)));
    const own = [...exported.types.entries()].filter(([name]) => /^(ocpp|gateway|admin)_/.test(name));
    const absent = own
      .filter(([name, type]) => (type === 'histogram' ? !['_bucket', '_sum', '_count'].some((s) => read.has(name + s)) : !read.has(name)))
      .map(([name]) => name);
    assert.deepEqual(absent, []);
  });
});
