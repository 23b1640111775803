/**
 * The flight recorder through the admin API of a real in-process gateway, with real WebSocket chargers: the
 * exact frames in both directions and in order, each form of credential redacted, every bound (frame cut, ring
 * of maxFrames, chargers at once, total bytes), the end at `until`, retention after a disconnect and the free
 * after retainMs, the JSON Lines download, and the 404s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { dataTransferFrameOfSize, expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

interface Api {
  harness: GatewayHarness;
  admin: AdminServer;
  url: string;
}

async function startApi(recorder: Record<string, unknown> = {}): Promise<Api> {
  const harness = await startGateway({ overrides: { recorder } });
  const admin = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0 });
  return { harness, admin, url: `http://127.0.0.1:${admin.port}` };
}

async function stopApi(api: Api | undefined): Promise<void> {
  await api?.admin.close();
  await api?.harness.stop();
}

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON Lines or an empty body: the text is what the test reads
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

const recordingUrl = (api: Api, id: string) => `${api.url}/api/v1/charge-points/${encodeURIComponent(id)}/recording`;

function assertError(res: { status: number; body: any }, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
}

/** A charger whose every raw frame received is kept as text, beside the OcppClient's parsed ones. */
async function rawCharger(api: Api, identity: string, protocol = 'ocpp1.6', autoAnswer?: (action: string, payload: unknown) => Record<string, unknown>) {
  const client = await OcppClient.connect(api.harness.url, identity, [protocol], autoAnswer === undefined ? {} : { autoAnswer });
  const texts: string[] = [];
  client.ws.on('message', (data) => texts.push(data.toString()));
  await waitUntil(() => api.harness.gateway.sessions.get(identity) !== undefined, 5000, `${identity} to have a session`);
  return { client, texts };
}

describe('flight recorder', () => {
  let api: Api;
  const clients: OcppClient[] = [];

  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await stopApi(api);
  });

  test('records both directions in order with the exact frames, and the detail shows the recording', async () => {
    const { client, texts } = await rawCharger(api, 'REC-1', 'ocpp1.6', (action) =>
      action === 'GetConfiguration' ? { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] } : {},
    );
    clients.push(client);
    const started = await call('PUT', recordingUrl(api, 'REC-1'), { durationSeconds: 60, maxFrames: 100 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.chargePointId, 'REC-1');
    assert.equal(started.body.active, true);
    assert.equal(started.body.maxFrames, 100);
    assert.equal(started.body.frames, 0);
    assert.equal(Date.parse(started.body.until) - Date.parse(started.body.startedAt), 60_000);
    assert.equal(started.body.instance, undefined, 'embedded mode names no instance');

    const heartbeat = '[2,"hb-1","Heartbeat",{}]';
    client.sendRaw(heartbeat);
    expectResult(await client.nextFrame());
    const command = await call('POST', `${api.url}/api/v1/charge-points/REC-1/calls`, { action: 'GetConfiguration', payload: { key: ['HeartbeatInterval'] } });
    assert.equal(command.status, 200, JSON.stringify(command.body));

    const res = await call('GET', recordingUrl(api, 'REC-1'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const sentCall = texts.find((t) => t.includes('"GetConfiguration"')) as string;
    const callId = JSON.parse(sentCall)[1];
    const answer = JSON.stringify([3, callId, { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] }]);
    assert.deepEqual(
      res.body.items.map((f: any) => [f.direction, f.frame, f.size]),
      [
        ['in', heartbeat, Buffer.byteLength(heartbeat)],
        ['out', texts[0], Buffer.byteLength(texts[0])],
        ['out', sentCall, Buffer.byteLength(sentCall)],
        ['in', answer, Buffer.byteLength(answer)],
      ],
    );
    const times = res.body.items.map((f: any) => Date.parse(f.at));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], 'oldest first');
    assert.equal(res.body.frames, 4);
    assert.equal(res.body.droppedFrames, 0);
    assert.equal(
      res.body.bytes,
      res.body.items.reduce((sum: number, f: any) => sum + Buffer.byteLength(f.frame), 0),
    );
    assert.ok(res.body.items.every((f: any) => f.truncated === undefined));

    const detail = await call('GET', `${api.url}/api/v1/charge-points/REC-1`);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.recording.active, true);
    assert.equal(detail.body.recording.frames, 4);
    assert.ok((await metricValue(api.harness.gateway, 'gateway_recorder_frames_total')) >= 4);
    assert.ok((await metricValue(api.harness.gateway, 'gateway_recorder_recordings_active')) >= 1);

    const stopped = await call('DELETE', recordingUrl(api, 'REC-1'));
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.active, false);
    assert.equal(typeof stopped.body.stoppedAt, 'string');
    client.sendRaw('[2,"hb-2","Heartbeat",{}]');
    expectResult(await client.nextFrame());
    const afterStop = await call('GET', recordingUrl(api, 'REC-1'));
    assert.equal(afterStop.body.frames, 4, 'nothing is recorded after the stop, and the frames stay');
  });

  test('credentials are redacted in every form before they are kept', async () => {
    const v16 = await rawCharger(api, 'REC-SECRET-16', 'ocpp1.6', (action) =>
      action === 'GetConfiguration'
        ? {
            configurationKey: [
              { key: 'AuthorizationKey', readonly: false, value: 'key-from-charger-16' },
              { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
            ],
          }
        : { status: 'Accepted' },
    );
    const v201 = await rawCharger(api, 'REC-SECRET-201', 'ocpp2.0.1', (action) =>
      action === 'GetVariables'
        ? {
            getVariableResult: [
              { attributeStatus: 'Accepted', attributeValue: 'basic-from-charger-201', component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' } },
              { attributeStatus: 'Accepted', attributeValue: 'Acme', component: { name: 'SecurityCtrlr' }, variable: { name: 'OrganizationName' } },
            ],
          }
        : { status: 'Accepted' },
    );
    clients.push(v16.client, v201.client);
    for (const id of ['REC-SECRET-16', 'REC-SECRET-201']) assert.equal((await call('PUT', recordingUrl(api, id), {})).status, 200);

    const commands: Array<[string, string, Record<string, unknown>]> = [
      ['REC-SECRET-16', 'ChangeConfiguration', { key: 'AuthorizationKey', value: 'key-to-charger-16' }],
      ['REC-SECRET-16', 'ChangeConfiguration', { key: 'MyVendorPassword', value: 'vendor-password-16' }],
      ['REC-SECRET-16', 'GetConfiguration', { key: ['AuthorizationKey', 'MeterValueSampleInterval'] }],
      [
        'REC-SECRET-201',
        'SetVariables',
        { setVariableData: [{ attributeValue: 'basic-to-charger-201', component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' } }] },
      ],
      ['REC-SECRET-201', 'GetVariables', { getVariableData: [{ component: { name: 'SecurityCtrlr' }, variable: { name: 'BasicAuthPassword' } }] }],
      [
        'REC-SECRET-201',
        'SetNetworkProfile',
        {
          configurationSlot: 1,
          connectionData: {
            ocppVersion: 'OCPP20',
            ocppTransport: 'JSON',
            ocppCsmsUrl: 'wss://csms.example/ocpp',
            messageTimeout: 30,
            securityProfile: 2,
            ocppInterface: 'Wireless0',
            vpn: { server: 'vpn.example', user: 'u', password: 'vpn-password-201', key: 'k', type: 'IPSec' },
            apn: { apn: 'internet', apnAuthentication: 'AUTO', apnPassword: 'apn-password-201' },
          },
        },
      ],
    ];
    for (const [id, action, payload] of commands) {
      const res = await call('POST', `${api.url}/api/v1/charge-points/${id}/calls`, { action, payload });
      assert.equal(res.status, 200, `${action}: ${JSON.stringify(res.body)}`);
    }
    // A JSON property named like a password anywhere in a charger's own message.
    v201.client.sendRaw(JSON.stringify([2, 'dt-1', 'DataTransfer', { vendorId: 'com.example', data: { nested: [{ password: 'nested-password-201' }] } }]));
    await v201.client.nextFrame();
    // Not JSON: kept as it came, credential and all (the gateway never sends such a frame; a vendor needs to see it).
    const broken = '[2,"x-1","DataTransfer",{"password":"not-json-kept"';
    v16.client.sendRaw(broken);
    await waitUntil(async () => (await call('GET', recordingUrl(api, 'REC-SECRET-16'))).text.includes('not-json-kept'), 3000, 'the broken frame to be recorded');

    const secrets = [
      'key-from-charger-16',
      'key-to-charger-16',
      'vendor-password-16',
      'basic-from-charger-201',
      'basic-to-charger-201',
      'vpn-password-201',
      'apn-password-201',
      'nested-password-201',
    ];
    for (const id of ['REC-SECRET-16', 'REC-SECRET-201']) {
      const res = await call('GET', recordingUrl(api, id));
      const jsonl = await call('GET', `${recordingUrl(api, id)}.jsonl`);
      for (const secret of secrets) {
        assert.ok(!res.text.includes(secret), `${secret} is not in the recording of ${id}`);
        assert.ok(!jsonl.text.includes(secret), `${secret} is not in the download of ${id}`);
      }
    }
    const frames16 = (await call('GET', recordingUrl(api, 'REC-SECRET-16'))).body.items.map((f: any) => f.frame);
    const frames201 = (await call('GET', recordingUrl(api, 'REC-SECRET-201'))).body.items.map((f: any) => f.frame);
    const parsed = (frames: string[]) => frames.filter((f) => f !== broken).map((f) => JSON.parse(f));
    const p16 = parsed(frames16);
    const p201 = parsed(frames201);
    assert.deepEqual(p16.find((f) => f[2] === 'ChangeConfiguration' && f[3].key === 'AuthorizationKey')[3], { key: 'AuthorizationKey', value: '***' });
    assert.deepEqual(p16.find((f) => f[2] === 'ChangeConfiguration' && f[3].key === 'MyVendorPassword')[3], { key: 'MyVendorPassword', value: '***' });
    assert.deepEqual(p16.find((f) => f[0] === 3 && f[2].configurationKey !== undefined)[2].configurationKey, [
      { key: 'AuthorizationKey', readonly: false, value: '***' },
      { key: 'MeterValueSampleInterval', readonly: false, value: '60' },
    ]);
    assert.equal(p201.find((f) => f[2] === 'SetVariables')[3].setVariableData[0].attributeValue, '***');
    const getResult = p201.find((f) => f[0] === 3 && f[2].getVariableResult !== undefined)[2].getVariableResult;
    assert.deepEqual(
      getResult.map((r: any) => [r.variable.name, r.attributeValue]),
      [
        ['BasicAuthPassword', '***'],
        ['OrganizationName', 'Acme'],
      ],
    );
    const network = p201.find((f) => f[2] === 'SetNetworkProfile')[3].connectionData;
    assert.equal(network.vpn.password, '***');
    assert.equal(network.apn.apnPassword, '***');
    assert.equal(network.vpn.user, 'u', 'what is not a credential is kept');
    assert.deepEqual(p201.find((f) => f[2] === 'DataTransfer')[3].data, { nested: [{ password: '***' }] });
    assert.ok(frames16.includes(broken), 'a frame that is not JSON is kept as received');
  });

  test('404s: not connected, no recording; the request body is checked', async () => {
    assertError(await call('PUT', recordingUrl(api, 'NOBODY'), {}), 404, 'DEVICE_OFFLINE');
    assertError(await call('DELETE', recordingUrl(api, 'NOBODY')), 404, 'NOT_RECORDING');
    assertError(await call('GET', recordingUrl(api, 'NOBODY')), 404, 'NOT_RECORDING');
    assertError(await call('GET', `${recordingUrl(api, 'NOBODY')}.jsonl`), 404, 'NOT_RECORDING');
    const { client } = await rawCharger(api, 'REC-BODY');
    clients.push(client);
    assertError(await call('PUT', recordingUrl(api, 'REC-BODY'), { durationSeconds: 0 }), 400, 'BAD_REQUEST');
    assertError(await call('PUT', recordingUrl(api, 'REC-BODY'), { durationSeconds: 3601 }), 400, 'BAD_REQUEST');
    assertError(await call('PUT', recordingUrl(api, 'REC-BODY'), { maxFrames: 5001 }), 400, 'BAD_REQUEST');
    assertError(await call('PUT', recordingUrl(api, 'REC-BODY'), { maxFrames: 10, extra: true }), 400, 'BAD_REQUEST');
    const defaults = await call('PUT', recordingUrl(api, 'REC-BODY'));
    assert.equal(defaults.status, 200, JSON.stringify(defaults.body));
    assert.equal(defaults.body.maxFrames, 1000);
    assert.equal(Date.parse(defaults.body.until) - Date.parse(defaults.body.startedAt), 600_000);
    assert.equal((await call('DELETE', recordingUrl(api, 'REC-BODY'))).status, 200);
  });

  test('the JSON Lines download: headers, and one frame per line, oldest first', async () => {
    const id = 'REC-JSONL.1';
    const { client } = await rawCharger(api, id);
    clients.push(client);
    assert.equal((await call('PUT', recordingUrl(api, id), { maxFrames: 50 })).status, 200);
    for (let i = 0; i < 3; i++) {
      client.sendRaw(`[2,"j-${i}","Heartbeat",{}]`);
      await client.nextFrame();
    }
    const json = await call('GET', recordingUrl(api, id));
    const res = await call('GET', `${recordingUrl(api, id)}.jsonl`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="REC-JSONL\.1-frames\.jsonl"/);
    assert.ok(res.text.endsWith('\n'));
    const lines = res.text.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      json.body.items,
    );
    assert.deepEqual(
      json.body.items.map((f: any) => f.direction),
      ['in', 'out', 'in', 'out', 'in', 'out'],
    );
  });

  test('a reconnect within the recording goes on recording the new connection', async () => {
    const id = 'REC-RECONNECT';
    const first = await rawCharger(api, id);
    assert.equal((await call('PUT', recordingUrl(api, id), {})).status, 200);
    first.client.sendRaw('[2,"r-1","Heartbeat",{}]');
    await first.client.nextFrame();
    await first.client.close();
    await waitUntil(() => api.harness.gateway.sessions.get(id) === undefined, 5000, 'the first session to end');
    const kept = await call('GET', recordingUrl(api, id));
    assert.equal(kept.status, 200, 'retained after the disconnect');
    assert.equal(kept.body.frames, 2);
    const second = await rawCharger(api, id);
    clients.push(second.client);
    second.client.sendRaw('[2,"r-2","Heartbeat",{}]');
    await second.client.nextFrame();
    const res = await call('GET', recordingUrl(api, id));
    assert.deepEqual(
      res.body.items.filter((f: any) => f.direction === 'in').map((f: any) => JSON.parse(f.frame)[1]),
      ['r-1', 'r-2'],
    );
  });
});

describe('flight recorder bounds', () => {
  let api: Api | undefined;
  const clients: OcppClient[] = [];

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await stopApi(api);
  });

  test('a frame is cut at maxFrameBytes, the ring keeps the last maxFrames and counts the dropped ones', async () => {
    api = await startApi({ maxFrameBytes: 1024, maxChargers: 2, retainMs: 1500 });
    const { client } = await rawCharger(api, 'B-1');
    clients.push(client);
    assert.equal((await call('PUT', recordingUrl(api, 'B-1'), { maxFrames: 3 })).status, 200);
    const big = dataTransferFrameOfSize('big-1', 5000);
    client.sendRaw(big);
    await client.nextFrame();
    let res = await call('GET', recordingUrl(api, 'B-1'));
    assert.equal(res.body.items[0].size, 5000);
    assert.equal(res.body.items[0].truncated, true);
    assert.equal(res.body.items[0].frame, big.slice(0, 1024));
    assert.equal(res.body.items[1].truncated, undefined);

    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(`ring-${i}`);
      client.sendRaw(`[2,"ring-${i}","Heartbeat",{}]`);
      await client.nextFrame();
    }
    res = await call('GET', recordingUrl(api, 'B-1'));
    // 10 frames went by (5 CALLs and their answers): the last 3 are kept.
    assert.equal(res.body.frames, 3);
    assert.equal(res.body.droppedFrames, 7);
    assert.deepEqual(
      res.body.items.map((f: any) => [f.direction, JSON.parse(f.frame)[1]]),
      [
        ['out', 'ring-2'],
        ['in', 'ring-3'],
        ['out', 'ring-3'],
      ],
    );
  });

  test('RECORDER_FULL beyond maxChargers recording at once; a stopped recording frees its place', async () => {
    assert.ok(api !== undefined);
    const a = api;
    for (const id of ['B-2', 'B-3']) {
      const { client } = await rawCharger(a, id);
      clients.push(client);
    }
    assert.equal((await call('PUT', recordingUrl(a, 'B-2'), {})).status, 200);
    const full = await call('PUT', recordingUrl(a, 'B-3'), {});
    assertError(full, 429, 'RECORDER_FULL');
    assert.equal((await call('DELETE', recordingUrl(a, 'B-2'))).status, 200);
    assert.equal((await call('PUT', recordingUrl(a, 'B-3'), {})).status, 200);
    // Replacing a charger's own recording needs no extra place.
    assert.equal((await call('PUT', recordingUrl(a, 'B-3'), { maxFrames: 7 })).body.maxFrames, 7);
  });

  test('a recording ends by itself at until, stays after the disconnect, and is freed retainMs later', async () => {
    assert.ok(api !== undefined);
    const a = api;
    const { client } = await rawCharger(a, 'B-4');
    assert.equal((await call('DELETE', recordingUrl(a, 'B-3'))).status, 200);
    const started = await call('PUT', recordingUrl(a, 'B-4'), { durationSeconds: 1 });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    client.sendRaw('[2,"u-1","Heartbeat",{}]');
    await client.nextFrame();
    await waitUntil(async () => (await call('GET', recordingUrl(a, 'B-4'))).body.active === false, 3000, 'the recording to end at until');
    const ended = await call('GET', recordingUrl(a, 'B-4'));
    assert.ok(Date.parse(ended.body.stoppedAt) >= Date.parse(ended.body.until) - 5, 'ended at until');
    client.sendRaw('[2,"u-2","Heartbeat",{}]');
    await client.nextFrame();
    await client.close();
    const kept = await call('GET', recordingUrl(a, 'B-4'));
    assert.equal(kept.status, 200, 'its frames stay after the charger left');
    assert.equal(kept.body.frames, 2);
    await waitUntil(async () => (await call('GET', recordingUrl(a, 'B-4'))).status === 404, 5000, 'the recording to be freed after retainMs');
    assertError(await call('GET', recordingUrl(a, 'B-4')), 404, 'NOT_RECORDING');
    // B-1 of the first test of this group records on.
    assert.equal(await metricValue(a.harness.gateway, 'gateway_recorder_recordings_active'), 1);
  });
});

describe('flight recorder total cap under many chargers with big frames', () => {
  let api: Api | undefined;
  const clients: OcppClient[] = [];

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await stopApi(api);
  });

  test('the recordings together never hold more than maxTotalBytes, nor one more than maxChargerBytes', async () => {
    const limits = { maxTotalBytes: 65536, maxChargerBytes: 16384, maxFrameBytes: 8192, maxChargers: 12 };
    api = await startApi(limits);
    const a = api;
    // A seeded generator: a failure can be replayed with the same frames.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const ids = Array.from({ length: 12 }, (_, i) => `CAP-${i}`);
    for (const id of ids) {
      const { client } = await rawCharger(a, id);
      clients.push(client);
      assert.equal((await call('PUT', recordingUrl(a, id), { maxFrames: 5000 })).status, 200);
    }
    const rssBefore = process.memoryUsage().rss;
    for (let round = 0; round < 8; round++) {
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 5; i++) {
            client.sendRaw(dataTransferFrameOfSize(`cap-${round}-${c}-${i}`, 200 + Math.floor(random() * 30_000)));
            await client.nextFrame();
          }
        }),
      );
      let total = 0;
      for (const id of ids) {
        const res = await call('GET', recordingUrl(a, id));
        assert.equal(res.status, 200);
        assert.ok(res.body.bytes <= limits.maxChargerBytes, `${id} holds ${res.body.bytes} bytes`);
        assert.equal(
          res.body.bytes,
          res.body.items.reduce((sum: number, f: any) => sum + Buffer.byteLength(f.frame), 0),
        );
        for (const frame of res.body.items) assert.ok(Buffer.byteLength(frame.frame) <= limits.maxFrameBytes);
        total += res.body.bytes;
      }
      assert.ok(total <= limits.maxTotalBytes, `round ${round}: the recordings hold ${total} bytes`);
      assert.equal(await metricValue(a.harness.gateway, 'gateway_recorder_bytes'), total);
    }
    // 12 chargers sent some 7 MB through the recorder, which kept at most 64 KiB of it.
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes`);
  });
});
