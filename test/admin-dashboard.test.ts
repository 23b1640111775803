/**
 * The dashboard's admin API on a real in-process gateway with real WebSocket chargers: the charger list's
 * filters and status, the protocol command schemas (the very ones the gateway refuses a payload with), and the
 * fleet statistics, whose numbers must be exactly what the test chargers did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { type GatewayHarness, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { bootPayload, expectResult, statusPayload } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

const INTERVAL_MS = 300;

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function postCall(url: string, id: string, action: string, payload: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/v1/charge-points/${encodeURIComponent(id)}/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action, payload }),
  });
  return { status: res.status, body: await res.json() };
}

/** Reads `stats` events of the dashboard stream as they come. */
async function openStats(url: string): Promise<{ events: any[]; close: () => void; contentType: string }> {
  const controller = new AbortController();
  const res = await fetch(`${url}/api/v1/dashboard/stream`, { signal: controller.signal });
  assert.equal(res.status, 200);
  const events: any[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          if (!block.split('\n').includes('event: stats')) continue;
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data !== undefined) events.push(JSON.parse(data.slice(6)));
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { events, close: () => controller.abort(), contentType: res.headers.get('content-type') ?? '' };
}

describe('dashboard admin API', () => {
  let harness: GatewayHarness;
  let admin: AdminServer;
  let api: string;
  const clients: OcppClient[] = [];

  before(async () => {
    harness = await startGateway({ overrides: { admin: { dashboardIntervalMs: INTERVAL_MS } } });
    admin = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0 });
    api = `http://127.0.0.1:${admin.port}`;
    const fleet: Array<[string, string, string, string | undefined]> = [
      ['ALPHA-1', 'ocpp1.6', 'Acme', 'Available'],
      ['ALPHA-2', 'ocpp1.6', 'Zeta', 'Charging'],
      ['beta-1', 'ocpp1.6', 'Acme', undefined],
      ['GAMMA-1', 'ocpp2.0.1', 'Volt', 'Faulted'],
      ['GAMMA-2', 'ocpp2.0.1', 'Acme', undefined],
    ];
    for (const [id, protocol, vendor, status] of fleet) {
      const version = protocol as 'ocpp1.6' | 'ocpp2.0.1';
      const client = await OcppClient.connect(harness.url, id, [protocol], { autoAnswer: () => ({ status: 'Accepted' }) });
      clients.push(client);
      const boot = bootPayload(version, `M-${id}`);
      if (version === 'ocpp1.6') boot.chargePointVendor = vendor;
      else (boot.chargingStation as Record<string, unknown>).vendorName = vendor;
      expectResult(await client.call('BootNotification', boot));
      if (status !== undefined) expectResult(await client.call('StatusNotification', statusPayload(version, status)));
    }
    // ALPHA-1 reports the charger itself (connector 0) after its connector: connector 0 wins.
    expectResult(await clients[0].call('StatusNotification', statusPayload('ocpp1.6', 'Unavailable', 0)));
    expectResult(await clients[0].call('StatusNotification', statusPayload('ocpp1.6', 'Preparing', 1)));
    // The stream's first event is the sampler's latest sample; on a busy machine the one before the fleet
    // connected can still be the latest when the tests start, so wait for one taken after.
    await waitUntil(
      async () => {
        const { connected } = (await getJson(`${api}/api/v1/dashboard/summary`)).body.totals;
        return connected['ocpp1.6'] === 3 && connected['ocpp2.0.1'] === 2;
      },
      5000,
      'a sample taken after the fleet connected',
    );
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await admin?.close();
    await harness?.stop();
  });

  test('the charger list filters by q (identity, vendor, model; any case) and protocol before paging, with status', async () => {
    const list = async (query: string) => (await getJson(`${api}/api/v1/charge-points?${query}`)).body;
    const ids = (page: any) => page.items.map((c: any) => c.identity);

    const all = await list('');
    assert.equal(all.total, 5);
    assert.deepEqual(
      all.items.map((c: any) => [c.identity, c.status]),
      [
        ['ALPHA-1', 'Unavailable'],
        ['ALPHA-2', 'Charging'],
        ['GAMMA-1', 'Faulted'],
        ['GAMMA-2', undefined],
        ['beta-1', undefined],
      ],
    );
    const alpha = await list('q=alpha');
    assert.deepEqual(ids(alpha), ['ALPHA-1', 'ALPHA-2']);
    assert.equal(alpha.total, 2);
    assert.deepEqual(ids(await list('q=ACME')), ['ALPHA-1', 'GAMMA-2', 'beta-1'], 'vendor, any case');
    assert.deepEqual(ids(await list('q=m-gamma-1')), ['GAMMA-1'], 'model');
    const v201 = await list('protocol=ocpp2.0.1');
    assert.deepEqual(ids(v201), ['GAMMA-1', 'GAMMA-2']);
    assert.equal(v201.total, 2);
    assert.deepEqual(ids(await list('q=acme&protocol=ocpp1.6')), ['ALPHA-1', 'beta-1']);

    // Paging over the matching chargers only.
    const first = await list('q=a&limit=2');
    assert.equal(first.total, 5);
    assert.deepEqual(ids(first), ['ALPHA-1', 'ALPHA-2']);
    const second = await list(`q=a&limit=2&cursor=${first.nextCursor}`);
    assert.deepEqual(ids(second), ['GAMMA-1', 'GAMMA-2']);
    const third = await list(`q=a&limit=2&cursor=${second.nextCursor}`);
    assert.deepEqual(ids(third), ['beta-1']);
    assert.equal(third.nextCursor, undefined);
    const acmePages = await list('q=acme&limit=1');
    assert.equal(acmePages.total, 3);
    assert.deepEqual(ids(await list(`q=acme&limit=5&cursor=${acmePages.nextCursor}`)), ['GAMMA-2', 'beta-1']);

    for (const bad of ['q=', `q=${'x'.repeat(129)}`, 'protocol=ocpp2.1']) {
      const res = await getJson(`${api}/api/v1/charge-points?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(res.body.error.code, 'BAD_REQUEST');
    }
    const detail = await getJson(`${api}/api/v1/charge-points/ALPHA-2`);
    assert.equal(detail.body.status, 'Charging');
    assert.equal(detail.body.recording, undefined, 'no recording, no field');
  });

  test('the commands of each version come with the schema the gateway validates with', async () => {
    const res = await getJson(`${api}/api/v1/protocols/ocpp1.6/commands`);
    assert.equal(res.status, 200);
    assert.equal(res.body.protocol, 'ocpp1.6');
    const actions = res.body.commands.map((c: any) => c.action);
    assert.ok(actions.includes('RemoteStartTransaction') && actions.includes('ChangeConfiguration') && actions.includes('DataTransfer'));
    assert.ok(!actions.includes('Heartbeat'), 'only what the central system sends');
    const v201 = await getJson(`${api}/api/v1/protocols/ocpp2.0.1/commands`);
    assert.ok(v201.body.commands.some((c: any) => c.action === 'RequestStartTransaction'));
    assert.equal((await getJson(`${api}/api/v1/protocols/ocpp2.1/commands`)).status, 400);

    // A payload the schema refuses is refused by the gateway with the same field; one it accepts goes through.
    const schema = res.body.commands.find((c: any) => c.action === 'ChangeAvailability').requestSchema;
    const validate = new Ajv({ strict: false }).compile(schema);
    const broken = { connectorId: 1, type: 'Sometimes' };
    assert.equal(validate(broken), false);
    assert.equal(validate.errors?.[0].instancePath, '/type');
    const refused = await postCall(api, 'ALPHA-1', 'ChangeAvailability', broken);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'INVALID_COMMAND_PAYLOAD');
    assert.equal(refused.body.error.errors[0].path, '/type');
    const good = { connectorId: 1, type: 'Operative' };
    assert.equal(validate(good), true);
    assert.equal((await postCall(api, 'ALPHA-1', 'ChangeAvailability', good)).status, 200);
  });

  test('the OpenAPI document describes the new routes and their schemas', async () => {
    const doc = (await getJson(`${api}/openapi.json`)).body;
    for (const path of [
      '/api/v1/dashboard/summary',
      '/api/v1/dashboard/stream',
      '/api/v1/protocols/{protocol}/commands',
      '/api/v1/charge-points/{id}/recording',
      '/api/v1/charge-points/{id}/recording.jsonl',
    ]) {
      assert.ok(doc.paths[path], `path ${path} is described`);
    }
    assert.ok(doc.paths['/api/v1/charge-points/{id}/recording'].put.responses['429'], 'RECORDER_FULL is described');
    assert.ok(doc.paths['/api/v1/charge-points'].get.parameters.some((p: any) => p.name === 'q'));
    for (const name of ['DashboardSnapshot', 'RecordingStatus', 'RecordedFrame', 'RecordingFrames', 'RecordingRequest']) {
      assert.ok(doc.components.schemas[name], `component ${name}`);
    }
  });

  test('the summary and the stream count exactly what the chargers did', async () => {
    const stream = await openStats(api);
    try {
      assert.match(stream.contentType, /^text\/event-stream/);
      await waitUntil(() => stream.events.length >= 1, 3000, 'the first stats event at once');
      const first = stream.events[0];
      assert.equal(first.mode, 'embedded');
      assert.equal(first.history, undefined, 'the stream carries no history');
      assert.deepEqual(first.totals.connected, { 'ocpp1.6': 3, 'ocpp2.0.1': 2 });
      assert.deepEqual(
        first.instances.map((i: any) => i.instance),
        [harness.gateway.id],
      );
      assert.deepEqual(first.missingInstances, []);
      // One sample after the stream opened: what earlier tests did is counted before `seen`.
      await waitUntil(() => stream.events.length >= 2, 3000, 'a sample after the stream opened');
      const seen = stream.events.length;

      const heartbeats = 7;
      const commands = 3;
      for (let i = 0; i < heartbeats; i++) expectResult(await clients[3].call('Heartbeat', {}));
      for (let i = 0; i < commands; i++) assert.equal((await postCall(api, 'GAMMA-1', 'ClearCache', {})).status, 200);
      clients[1].sendRaw('[2,"bad-1","NoSuchAction",{}]');
      await clients[1].nextFrame();
      // Two more samples after the last message: every message has been counted in one of them.
      await waitUntil(() => stream.events.length >= seen + 3, 5000, 'more samples');
      const later = stream.events.slice(seen);
      const counted = (pick: (e: any) => number | undefined) => later.reduce((sum, e) => sum + ((pick(e) ?? 0) * e.intervalMs) / 1000, 0);
      assert.ok(Math.abs(counted((e) => e.totals.messagesPerSecond.inbound.Heartbeat) - heartbeats) < 1e-6, 'inbound Heartbeats');
      assert.ok(Math.abs(counted((e) => e.totals.messagesPerSecond.outbound.ClearCache) - commands) < 1e-6, 'outbound ClearCache CALLs');
      assert.ok(Math.abs(counted((e) => e.totals.messagesPerSecond.inbound.ClearCache) - commands) < 1e-6, 'their CALLRESULTs');
      assert.ok(later.some((e) => e.totals.messagesPerSecond.inbound.Heartbeat > 0));
      assert.equal(
        later.reduce((sum, e) => sum + e.totals.callRoundTripMs.count, 0),
        commands,
        'every command round trip in one interval',
      );
      const withCommands = later.find((e) => e.totals.callRoundTripMs.count > 0);
      assert.ok(withCommands.totals.callRoundTripMs.p50 > 0 && withCommands.totals.callRoundTripMs.p99 >= withCommands.totals.callRoundTripMs.p50);
      const last = later[later.length - 1];
      assert.equal(last.totals.callErrors.NotImplemented, 1, 'the CALLERROR for the unknown action');
      assert.deepEqual(last.totals.closes, { outbox: 0, keepalive: 0 });

      // A refused connection and a close show in the cumulative counts.
      const refused = await OcppClient.tryConnect(harness.url, 'NO-SUBPROTOCOL', ['ocpp9']);
      if (refused.ok) await refused.client.close();
      const extra = await OcppClient.connect(harness.url, 'SHORT-LIVED', ['ocpp1.6']);
      await extra.close();
      await waitUntil(() => harness.gateway.sessions.get('SHORT-LIVED') === undefined, 3000, 'the short-lived session to end');
      const mark = stream.events.length;
      await waitUntil(() => stream.events.length >= mark + 2, 3000, 'a sample after the close');
      const summary = await getJson(`${api}/api/v1/dashboard/summary`);
      assert.equal(summary.status, 200);
      assert.deepEqual(summary.body.totals.connected, { 'ocpp1.6': 3, 'ocpp2.0.1': 2 });
      assert.equal(summary.body.totals.refusals.no_subprotocol, 1);
      assert.equal(summary.body.totals.closes.other.charger, 1);
      assert.equal(summary.body.instances.length, 1);
      assert.deepEqual(summary.body.instances[0].connected, summary.body.totals.connected);
      assert.ok(summary.body.intervalMs > 0);
      assert.ok(Array.isArray(summary.body.history) && summary.body.history.length >= 3);
      const times = summary.body.history.map((h: any) => Date.parse(h.at));
      for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1], 'history oldest first');
      assert.deepEqual(summary.body.history[summary.body.history.length - 1].connected, { 'ocpp1.6': 3, 'ocpp2.0.1': 2 });
      assert.ok(summary.body.history.some((h: any) => h.inboundPerSecond > 0));
    } finally {
      stream.close();
    }
  });
});
