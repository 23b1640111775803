/**
 * The admin API through real HTTP on its own port, against a real in-process gateway with real WebSocket
 * chargers: health and metrics, the bearer token, paging, charger detail, the event stream (filters, order,
 * heartbeats, a slow client, shutdown) and the OpenAPI document.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { SUBJECTS } from '../src/bus/types.js';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { metricSample, openRawStream, parseSseFrames, readMetrics, SseStream } from './helpers/backend-http.js';
import { type GatewayHarness, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { OcppClient } from './helpers/ocpp-client.js';

const T = () => new Date().toISOString();

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: res.status, body, headers: res.headers };
}

function assertError(res: { status: number; body: any }, status: number, code: string): any {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0);
  return res.body.error;
}

describe('admin API on the whole application', () => {
  let backend: BackendApp;
  let api: string;

  before(async () => {
    backend = await startBackendApp();
    api = backend.adminUrl;
  });
  after(async () => {
    await backend?.stop();
  });

  test('/healthz, /readyz and /metrics answer while the gateway runs', async () => {
    const health = await getJson(`${api}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });

    const ready = await getJson(`${api}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });

    const res = await fetch(`${api}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    for (const name of [
      'ocpp_connections',
      'ocpp_connection_attempts_total',
      'ocpp_messages_total',
      'ocpp_call_duration_seconds',
      'ocpp_callerrors_sent_total',
      'ocpp_validation_failures_total',
      'ocpp_outbox_queued_frames',
      'ocpp_backpressure_closes_total',
      'ocpp_keepalive_terminations_total',
      'gateway_commands_total',
      'gateway_event_publish_seconds',
      'gateway_event_publish_failures_total',
      'admin_sse_overflow_closes_total',
      'admin_sse_streams',
    ]) {
      assert.ok(text.includes(`# TYPE ${name} `), `metric ${name} is exposed`);
    }
  });

  test('the metrics follow a charger: a connection by protocol and its messages by action', async () => {
    const connections = (t: string) => metricSample(t, 'ocpp_connections', { protocol: 'ocpp1.6' }) ?? 0;
    const boots = (t: string) => metricSample(t, 'ocpp_messages_total', { direction: 'in', type: 'call', action: 'BootNotification' }) ?? 0;
    const before = await readMetrics(api);
    const charger = await backend.connect('MET-1');
    await charger.callOk('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' });
    const text = await readMetrics(api);
    assert.equal(connections(text), connections(before) + 1, 'ocpp_connections{protocol="ocpp1.6"}');
    assert.equal(boots(text), boots(before) + 1, 'BootNotifications counted');
    assert.ok(!/chargePointId|identity="|MET-1/.test(text), 'no per-charger label in the scrape');
    await charger.close();
  });

  test('a charger after BootNotification and StatusNotification: its boot info and connector status', async () => {
    const charger = await backend.connect('DET-1');
    await charger.callOk('BootNotification', {
      chargePointVendor: 'Acme',
      chargePointModel: 'X1',
      chargePointSerialNumber: 'SN-42',
      firmwareVersion: '1.2.3',
    });
    await charger.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: T() });
    await charger.callOk('StatusNotification', { connectorId: 2, errorCode: 'GroundFailure', status: 'Faulted', timestamp: T() });
    const started = await charger.callOk('StartTransaction', { connectorId: 1, idTag: 'TAG-1', meterStart: 1000, timestamp: T() });

    const res = await getJson(`${api}/api/v1/charge-points/DET-1`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const cp = res.body;
    assert.equal(cp.identity, 'DET-1');
    assert.equal(cp.protocol, 'ocpp1.6');
    assert.equal(cp.state, 'open');
    assert.equal(cp.remoteAddress, '127.0.0.1');
    assert.ok(!Number.isNaN(Date.parse(cp.connectedAt)) && !Number.isNaN(Date.parse(cp.lastSeen)), 'ISO times');
    assert.ok(Date.parse(cp.lastSeen) >= Date.parse(cp.connectedAt));
    assert.equal(cp.boot.vendor, 'Acme');
    assert.equal(cp.boot.model, 'X1');
    assert.equal(cp.boot.serialNumber, 'SN-42');
    assert.equal(cp.boot.firmwareVersion, '1.2.3');
    assert.equal(cp.boot.status, 'Accepted');
    assert.deepEqual(
      cp.connectors.map((c: any) => [c.key, c.connectorId, c.status, c.errorCode]),
      [
        ['1', 1, 'Available', 'NoError'],
        ['2', 2, 'Faulted', 'GroundFailure'],
      ],
    );
    assert.equal(cp.transactions.length, 1);
    assert.equal(cp.transactions[0].transactionId, String(started.transactionId));
    assert.equal(cp.transactions[0].connectorId, 1);
    assert.equal(cp.transactions[0].meterStart, 1000);
    assert.deepEqual(cp.transactions[0].idToken, { idToken: 'TAG-1', type: 'idTag' });
    await charger.close();
  });

  test('a 2.0.1 charger shows EVSE and connector; an identity with a percent-encoded character is found', async () => {
    const charger = await backend.connect('EV%231', { protocol: 'ocpp2.0.1' });
    await charger.callOk('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model: 'Z2', firmwareVersion: '9' } });
    await charger.callOk('StatusNotification', { timestamp: T(), connectorStatus: 'Occupied', evseId: 2, connectorId: 1 });
    const res = await getJson(`${api}/api/v1/charge-points/${encodeURIComponent('EV#1')}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identity, 'EV#1');
    assert.equal(res.body.protocol, 'ocpp2.0.1');
    assert.equal(res.body.boot.model, 'Z2');
    assert.deepEqual(
      res.body.connectors.map((c: any) => [c.key, c.evseId, c.connectorId, c.status]),
      [['2/1', 2, 1, 'Occupied']],
    );
    await charger.close();
  });

  test('an unknown charger is 404 DEVICE_OFFLINE; an unknown route is 404 NOT_FOUND', async () => {
    assertError(await getJson(`${api}/api/v1/charge-points/NOBODY`), 404, 'DEVICE_OFFLINE');
    assertError(await getJson(`${api}/api/v1/nothing-here`), 404, 'NOT_FOUND');
    const res = await fetch(`${api}/api/v1/charge-points`, { method: 'DELETE' });
    assertError({ status: res.status, body: await res.json() }, 404, 'NOT_FOUND');
  });

  test('bad parameters get 400 BAD_REQUEST naming the field', async () => {
    let error = assertError(await getJson(`${api}/api/v1/charge-points?limit=1001`), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'querystring/limit');
    error = assertError(await getJson(`${api}/api/v1/charge-points?limit=ten`), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'querystring/limit');
    error = assertError(await getJson(`${api}/api/v1/charge-points?cursor=not*ours`), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'querystring/cursor');
    error = assertError(await getJson(`${api}/api/v1/charge-points?page=2`), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'querystring/page');

    const post = async (body: string, contentType = 'application/json') => {
      const res = await fetch(`${api}/api/v1/charge-points/X/calls`, { method: 'POST', headers: { 'content-type': contentType }, body });
      return { status: res.status, body: await res.json() };
    };
    error = assertError(await post(JSON.stringify({ payload: {} })), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'body/action');
    error = assertError(await post(JSON.stringify({ action: 'Reset', payload: 'soft' })), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'body/payload');
    error = assertError(await post(JSON.stringify({ action: 'Reset', payload: {}, timeoutMs: 0 })), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'body/timeoutMs');
    error = assertError(await post(JSON.stringify({ action: 'Reset', payload: {}, retries: 3 })), 400, 'BAD_REQUEST');
    assert.equal(error.field, 'body/retries');
    assertError(await post('{"action":'), 400, 'BAD_REQUEST');
    assertError(await post('action=Reset', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('RemoteStartTransaction to a 1.6 charger that accepts: 200 with its answer', async () => {
    const charger = await backend.connect('CMD-1', { handler: () => ({ result: { status: 'Accepted' } }) });
    const res = await fetch(`${api}/api/v1/charge-points/CMD-1/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'RemoteStartTransaction', payload: { connectorId: 1, idTag: 'TAG-9' }, commandId: 'cmd-admin-1', traceId: 'trace-1' }),
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.commandId, 'cmd-admin-1');
    assert.equal(body.chargePointId, 'CMD-1');
    assert.equal(body.action, 'RemoteStartTransaction');
    assert.equal(body.status, 'completed');
    assert.deepEqual(body.response, { status: 'Accepted' });
    assert.equal(body.traceId, 'trace-1');
    assert.equal(typeof body.durationMs, 'number');
    assert.equal(charger.calls.length, 1);
    assert.equal(charger.calls[0].action, 'RemoteStartTransaction');
    assert.deepEqual(charger.calls[0].payload, { connectorId: 1, idTag: 'TAG-9' });
    await charger.close();
  });

  test('the event stream carries connected then booted in order, and filters by charger and type', async () => {
    const all = await SseStream.open(api);
    const onlyA = await SseStream.open(api, { chargePointId: 'SSE-A' });
    const onlyBoots = await SseStream.open(api, { eventType: 'charge_point.booted' });
    const chargePointFamily = await SseStream.open(api, { eventType: 'charge_point.' });
    try {
      assert.match(all.contentType ?? '', /^text\/event-stream/);
      const a = await backend.connect('SSE-A');
      await a.callOk('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'A' });
      const b = await backend.connect('SSE-B');
      await b.callOk('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'B' });
      await b.callOk('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: T() });

      await all.waitFor((e) => e.chargePointId === 'SSE-B' && e.eventType === 'connector.status_changed', 5000, "B's status");
      const ofA = all.envelopes.filter((e) => e.chargePointId === 'SSE-A').map((e) => e.eventType);
      assert.deepEqual(ofA, ['charge_point.connected', 'charge_point.booted']);
      const booted = all.envelopes.find((e) => e.chargePointId === 'SSE-A' && e.eventType === 'charge_point.booted');
      assert.equal(booted.gatewayId, backend.app.gateway.id);
      assert.equal(booted.protocol, 'ocpp1.6');
      // The SSE fields repeat the envelope's id and type.
      for (const event of all.events.filter((e) => typeof e.data === 'object')) {
        assert.equal(event.id, event.data.eventId);
        assert.equal(event.event, event.data.eventType);
      }

      await onlyBoots.waitFor((e) => e.chargePointId === 'SSE-B', 5000, "B's boot");
      assert.deepEqual(
        onlyBoots.envelopes.map((e) => [e.eventType, e.chargePointId]),
        [
          ['charge_point.booted', 'SSE-A'],
          ['charge_point.booted', 'SSE-B'],
        ],
      );
      await chargePointFamily.waitFor((e) => e.chargePointId === 'SSE-B' && e.eventType === 'charge_point.booted', 5000, "B's boot");
      assert.ok(
        chargePointFamily.envelopes.every((e) => e.eventType.startsWith('charge_point.')),
        chargePointFamily.summary(),
      );

      await a.close();
      await onlyA.waitFor((e) => e.eventType === 'charge_point.disconnected', 5000, "A's disconnect");
      assert.deepEqual(
        onlyA.envelopes.map((e) => [e.chargePointId, e.eventType]),
        [
          ['SSE-A', 'charge_point.connected'],
          ['SSE-A', 'charge_point.booted'],
          ['SSE-A', 'charge_point.disconnected'],
        ],
      );
      await b.close();
    } finally {
      await Promise.all([all.close(), onlyA.close(), onlyBoots.close(), chargePointFamily.close()]);
    }
  });

  test('a client that leaves is unsubscribed and no longer counted', async () => {
    const gateway = backend.app.gateway;
    const streams = async () => metricSample(await readMetrics(api), 'admin_sse_streams') ?? -1;
    // Streams of earlier tests may still be on their way out.
    await waitUntil(async () => (await streams()) === 0, 2000, 'no stream left from earlier tests');
    const stream = await SseStream.open(api);
    await waitUntil(async () => (await streams()) === 1, 2000, 'the stream to be counted');
    await stream.close();
    await waitUntil(async () => (await streams()) === 0, 2000, 'the stream to be forgotten');
    // Publishing after the client left must not touch its socket.
    await gateway.bus.publish(SUBJECTS.event('test.after_leave'), { eventId: 'x', eventType: 'test.after_leave', chargePointId: 'none' });
  });

  test('the OpenAPI document describes every route', async () => {
    const res = await getJson(`${api}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = res.body;
    assert.match(doc.openapi, /^3\./);
    assert.equal(typeof doc.info.title, 'string');
    for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/charge-points', '/api/v1/charge-points/{id}', '/api/v1/charge-points/{id}/calls', '/api/v1/events']) {
      assert.ok(doc.paths[path], `path ${path} is described`);
    }
    assert.ok(doc.paths['/api/v1/charge-points/{id}/calls'].post.requestBody, 'the command body is described');
    for (const status of ['200', '400', '404', '429', '502', '504']) {
      assert.ok(doc.paths['/api/v1/charge-points/{id}/calls'].post.responses[status], `command response ${status} is described`);
    }
    for (const name of ['ApiError', 'ChargePoint', 'ChargePointDetail', 'ChargePointPage', 'CommandRequest', 'CommandResult']) {
      assert.ok(doc.components.schemas[name], `component ${name}`);
    }
    assert.equal(doc.paths['/openapi.json'], undefined, 'the document does not describe itself');
  });
});

describe('paging through 250 connected chargers', () => {
  let harness: GatewayHarness;
  let admin: AdminServer;
  const clients: OcppClient[] = [];
  const identities: string[] = [];

  before(async () => {
    harness = await startGateway();
    admin = await startAdminServer(harness.gateway, { port: 0 });
    for (let i = 0; i < 250; i++) identities.push(`PG-${String((i * 7919) % 1000).padStart(4, '0')}-${i}`);
    // Connected in an order unrelated to the sort order.
    for (let i = 0; i < identities.length; i += 50) {
      clients.push(...(await Promise.all(identities.slice(i, i + 50).map((id) => OcppClient.connect(harness.url, id)))));
    }
    await waitUntil(() => harness.gateway.sessions.size === 250, 5000, '250 sessions');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close(1000, 500)));
    await admin?.close();
    await harness?.stop();
  });

  test('limit=100 gives three pages, sorted, without duplicates or gaps', async () => {
    const base = `http://127.0.0.1:${admin.port}/api/v1/charge-points`;
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await getJson(`${base}?limit=100${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.total, 250);
      sizes.push(res.body.items.length);
      for (const item of res.body.items) {
        seen.push(item.identity);
        assert.equal(item.protocol, 'ocpp1.6');
        assert.equal(item.boot, null, 'no BootNotification yet');
        assert.equal(typeof item.connectedAt, 'string');
      }
      cursor = res.body.nextCursor;
      if (cursor === undefined) break;
    }
    assert.deepEqual(sizes, [100, 100, 50]);
    assert.equal(new Set(seen).size, 250, 'no duplicates');
    assert.deepEqual(seen, [...identities].sort(), 'every charger once, in identity order');
  });

  test('the default page is 100; limit=1000 returns all in one page without a cursor', async () => {
    const base = `http://127.0.0.1:${admin.port}/api/v1/charge-points`;
    const first = await getJson(base);
    assert.equal(first.body.items.length, 100);
    assert.equal(typeof first.body.nextCursor, 'string');
    const whole = await getJson(`${base}?limit=1000`);
    assert.equal(whole.body.items.length, 250);
    assert.equal(whole.body.nextCursor, undefined);
  });

  test('a charger that leaves between pages does not shift the next page', async () => {
    const base = `http://127.0.0.1:${admin.port}/api/v1/charge-points`;
    const first = await getJson(`${base}?limit=10`);
    const sorted = [...identities].sort();
    assert.deepEqual(
      first.body.items.map((i: any) => i.identity),
      sorted.slice(0, 10),
    );
    // The first charger of page one leaves: page two still starts right after page one's last identity.
    const leaving = clients[identities.indexOf(sorted[0])];
    await leaving.close();
    await waitUntil(() => harness.gateway.sessions.get(sorted[0]) === undefined, 3000, 'the charger to leave');
    const second = await getJson(`${base}?limit=10&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    assert.deepEqual(
      second.body.items.map((i: any) => i.identity),
      sorted.slice(10, 20),
    );
  });
});

describe('admin API with a bearer token', () => {
  const token = 'a-long-enough-admin-token';
  let backend: BackendApp;
  let api: string;

  before(async () => {
    backend = await startBackendApp({ overrides: { admin: { token } } });
    api = backend.adminUrl;
  });
  after(async () => {
    await backend?.stop();
  });

  test('API routes need the token: 401 UNAUTHORIZED without it or with a wrong one, 200 with it', async () => {
    const missing = await getJson(`${api}/api/v1/charge-points`);
    assertError(missing, 401, 'UNAUTHORIZED');
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
    assertError(await getJson(`${api}/api/v1/charge-points`, { authorization: `Bearer ${token}x` }), 401, 'UNAUTHORIZED');
    assertError(await getJson(`${api}/api/v1/charge-points`, { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` }), 401, 'UNAUTHORIZED');
    assertError(await getJson(`${api}/api/v1/charge-points`, { authorization: token }), 401, 'UNAUTHORIZED');
    assertError(await getJson(`${api}/openapi.json`), 401, 'UNAUTHORIZED');
    assertError(await getJson(`${api}/api/v1/events`), 401, 'UNAUTHORIZED');
    assertError(await getJson(`${api}/no-such-route`), 401, 'UNAUTHORIZED');
    const calls = await fetch(`${api}/api/v1/charge-points/X/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'Reset', payload: { type: 'Soft' } }),
    });
    assertError({ status: calls.status, body: await calls.json() }, 401, 'UNAUTHORIZED');

    const ok = await getJson(`${api}/api/v1/charge-points`, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body.items, []);
    assert.equal((await getJson(`${api}/openapi.json`, { authorization: `bearer ${token}` })).status, 200, 'the scheme is case-insensitive');
    assertError(await getJson(`${api}/no-such-route`, { authorization: `Bearer ${token}` }), 404, 'NOT_FOUND');
    const offline = await fetch(`${api}/api/v1/charge-points/X/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ action: 'Reset', payload: { type: 'Soft' } }),
    });
    assertError({ status: offline.status, body: await offline.json() }, 404, 'DEVICE_OFFLINE');
  });

  test('health, readiness and metrics stay open for probes and scrapers', async () => {
    assert.equal((await fetch(`${api}/healthz`)).status, 200);
    assert.equal((await fetch(`${api}/readyz`)).status, 200);
    const metrics = await fetch(`${api}/metrics`);
    assert.equal(metrics.status, 200);
    assert.ok((await metrics.text()).includes('ocpp_connections'));
  });

  test('the event stream opens with the token', async () => {
    const controller = new AbortController();
    const res = await fetch(`${api}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    controller.abort();
    await res.body?.cancel().catch(() => {});
  });
});

describe('event streams under load and at shutdown', () => {
  let harness: GatewayHarness;
  let admin: AdminServer;

  before(async () => {
    harness = await startGateway();
    admin = await startAdminServer(harness.gateway, { port: 0, sseBufferEvents: 10, sseHeartbeatMs: 50, sseLingerMs: 500 });
  });
  after(async () => {
    await admin?.close();
    await harness?.stop();
  });

  const big = 'x'.repeat(64 * 1024);
  const publish = (i: number, payload: unknown = { big }) =>
    harness.gateway.bus.publish(SUBJECTS.event('test.load'), { eventId: `e${i}`, eventType: 'test.load', chargePointId: 'LOAD', payload });

  test('a client that does not read is ended with a final overflow event after every event it was sent, in order, and counted', async () => {
    const overflows = () =>
      harness.gateway.metrics.registry
        .getSingleMetric('admin_sse_overflow_closes_total')!
        .get()
        .then((m) => m.values[0]?.value ?? 0);
    const before = await overflows();
    const stream = await openRawStream(admin.port);
    await waitUntil(() => stream.text().includes('stream open'), 2000, 'the preamble');
    stream.pause();
    // Far more than the socket and the 10-event buffer hold, published without yielding.
    for (let i = 0; i < 200; i++) await publish(i);
    assert.equal(await overflows(), before + 1, 'the overflow is counted once');
    stream.resume();
    await stream.ended;

    const frames = parseSseFrames(stream.text());
    const last = frames.at(-1)!;
    assert.equal(last.event, 'overflow', 'the final event says why the stream ended');
    const events = frames.slice(0, -1);
    assert.ok(events.length >= 10, `at least the buffer's worth was delivered (${events.length})`);
    assert.deepEqual(
      events.map((f) => f.id),
      events.map((_, i) => `e${i}`),
      'a gapless prefix: nothing was dropped while the stream was open',
    );
    assert.equal(last.data.lastEventId, events.at(-1)!.id, 'the overflow event names the last event delivered');
    assert.equal(last.data.bufferEvents, 10);
  });

  test('a client that keeps up gets every event of a burst and heartbeats while idle', async () => {
    const stream = await SseStream.open(`http://127.0.0.1:${admin.port}`, { chargePointId: 'LOAD' });
    try {
      for (let burst = 0; burst < 20; burst++) {
        for (let i = 0; i < 8; i++) await publish(burst * 8 + i, { n: burst * 8 + i });
        await new Promise((r) => setTimeout(r, 5));
      }
      await stream.waitFor((e) => e.eventId === 'e159', 5000, 'the last event of the burst');
      assert.deepEqual(
        stream.envelopes.map((e) => e.eventId),
        Array.from({ length: 160 }, (_, i) => `e${i}`),
      );
      const comments = stream.comments;
      await waitUntil(() => stream.comments >= comments + 2, 2000, 'heartbeat comments');
      assert.equal(stream.hasEnded, false);
    } finally {
      await stream.close();
    }
  });

  test('endStreams ends every open stream with a final end event; close() then completes', async () => {
    const api = `http://127.0.0.1:${admin.port}`;
    const streams = await Promise.all([SseStream.open(api), SseStream.open(api, { eventType: 'transaction.' })]);
    await publish(1000, { n: 1 });
    await streams[0].waitFor((e) => e.eventId === 'e1000', 2000, 'an event before shutdown');
    admin.endStreams();
    for (const stream of streams) {
      const { how } = await stream.ended;
      assert.equal(how, 'end', 'ended cleanly by the server');
      assert.equal(stream.events.at(-1)?.event, 'end');
    }
    assertError(await getJson(`${api}/api/v1/events`), 503, 'UNAVAILABLE');
    const startedAt = Date.now();
    await admin.close();
    assert.ok(Date.now() - startedAt < 3000, 'close does not wait on stream sockets');
    const refused = await fetch(`${api}/healthz`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(refused, 'refused', 'the admin port is closed');
  });
});

describe('closing the admin server', () => {
  test('requests that arrive while it closes get 503 UNAVAILABLE; a stream client that stopped reading does not hold it up', async () => {
    const harness = await startGateway();
    const admin = await startAdminServer(harness.gateway, { port: 0, sseBufferEvents: 100, sseLingerMs: 60_000 });
    try {
      const stream = await openRawStream(admin.port);
      await waitUntil(() => stream.text().includes('stream open'), 2000, 'the preamble');
      stream.pause();
      // More than the loopback socket buffers hold, so the stream cannot finish while its client sleeps.
      const chunk = 'y'.repeat(512 * 1024);
      for (let i = 0; i < 60; i++) {
        await harness.gateway.bus.publish(SUBJECTS.event('test.bulk'), { eventId: `b${i}`, eventType: 'test.bulk', chargePointId: 'BULK', payload: { chunk } });
      }
      const startedAt = Date.now();
      const closed = admin.close();
      assertError(await getJson(`http://127.0.0.1:${admin.port}/healthz`), 503, 'UNAVAILABLE');
      await closed;
      assert.ok(Date.now() - startedAt < 5000, `closed in ${Date.now() - startedAt} ms`);
      // The server dropped the socket; the client notices once it reads again.
      stream.resume();
      await stream.ended;
    } finally {
      await admin.close();
      await harness.stop();
    }
  });
});

describe('readiness while the gateway drains', () => {
  test('/readyz turns 503 draining when the gateway stops accepting; /healthz stays 200', async () => {
    const harness = await startGateway();
    const admin = await startAdminServer(harness.gateway, { port: 0 });
    try {
      const api = `http://127.0.0.1:${admin.port}`;
      assert.equal((await fetch(`${api}/readyz`)).status, 200);
      await harness.gateway.stopAccepting();
      const ready = await getJson(`${api}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, { status: 'draining' });
      assert.equal((await getJson(`${api}/healthz`)).status, 200);
    } finally {
      await admin.close();
      await harness.stop();
    }
  });
});
