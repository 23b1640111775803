/**
 * Compatibility profiles end to end: one real gateway (charger port and admin API) and real OCPP-J clients. Chargers
 * with different profiles share the gateway, so each test shows that a profile changes what one charger may send
 * and leaves every other charger strict. What the gateway sends back is checked with the tests' own schema oracle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { metricSample, postCall, readMetrics, SseStream } from './helpers/backend-http.js';
import { runServerProcessToExit } from './helpers/gateway-harness.js';
import { assertAnswersValid, bootPayload, expectCallError, expectResult, T } from './helpers/ocpp-assert.js';
import { type Frame, OcppClient } from './helpers/ocpp-client.js';
import { schemaOracle } from './helpers/schema-oracle.js';

/** 23 characters: three more than CiString20 allows for chargePointModel. */
const LONG_MODEL = 'UltraCharge-AC22-T2S-EU';
/** 60 characters: ten more than CiString50 allows for StatusNotification info. */
const LONG_INFO = 'connector temperature sensor reports an implausible value 99';

let backend: BackendApp;
let sse: SseStream;
/** Every client connected, by identity (the latest connection). */
const clients = new Map<string, OcppClient>();

async function connect(identity: string): Promise<OcppClient> {
  const client = await OcppClient.connect(backend.chargerUrl, identity, ['ocpp1.6']);
  clients.set(identity, client);
  return client;
}

function client(identity: string): OcppClient {
  const found = clients.get(identity);
  assert.ok(found, `a client ${identity}`);
  return found;
}

async function detail(identity: string): Promise<Record<string, any>> {
  const res = await fetch(`${backend.adminUrl}/api/v1/charge-points/${encodeURIComponent(identity)}`);
  assert.equal(res.status, 200, `charger detail of ${identity}`);
  return (await res.json()) as Record<string, any>;
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  return metricSample(await readMetrics(backend.adminUrl), name, labels, true) ?? 0;
}

function status16(extra: Record<string, unknown>): Record<string, unknown> {
  return { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: T(), ...extra };
}

function meterValues16(samples: unknown[]): Record<string, unknown> {
  return { connectorId: 1, transactionId: 7, meterValue: [{ timestamp: T(), sampledValue: samples }] };
}

before(async () => {
  backend = await startBackendApp({
    overrides: {
      // Answer from config: these tests are about what is accepted, not about a backend.
      policy: { default: 'local', actions: { BootNotification: 'local', Authorize: 'local', StartTransaction: 'local' } },
      compat: {
        chargers: {
          'CP-METER': 'meter-values-lenient',
          'CP-SPELL': 'ocpp16-spelling-2.0.1',
          'CP-TX': 'transaction-safety',
          'CP-OWN': 'answers-strict',
        },
        models: [
          { vendor: 'OtherCo', profile: 'enum-aliases' },
          { vendor: 'LongCo', model: { prefix: 'UltraCharge-' }, profile: 'long-strings' },
        ],
        profiles: {
          'answers-strict': { description: 'answers to commands must match their schema', answers: { default: 'strict' } },
        },
      },
    },
  });
  sse = await SseStream.open(backend.adminUrl);
});

after(async () => {
  for (const c of clients.values()) c.terminate();
  await sse?.close();
  await backend?.stop();
});

describe('profile chosen by the BootNotification model', () => {
  test('a 23-character chargePointModel: refused for a default charger, accepted where a model rule matches, in the same gateway', async () => {
    const plain = await connect('CP-PLAIN');
    const bootId = plain.sendCall('BootNotification', { chargePointVendor: 'Acme', chargePointModel: LONG_MODEL });
    const refused = expectCallError(await plain.nextFrame(), bootId, 'PropertyConstraintViolation');
    assert.match(refused.description, /chargePointModel/);

    const long = await connect('CP-LONG');
    const answer = expectResult(await long.call('BootNotification', { chargePointVendor: 'LongCo', chargePointModel: LONG_MODEL }));
    assert.equal(answer.status, 'Accepted');
    assertAnswersValid('ocpp1.6', plain);
    assertAnswersValid('ocpp1.6', long);

    assert.deepEqual((await detail('CP-PLAIN')).compat, { profile: 'strict', reason: 'default' });
    const matched = await detail('CP-LONG');
    assert.deepEqual(matched.compat, { profile: 'long-strings', reason: 'model', model: { vendor: 'LongCo', model: LONG_MODEL } });
    assert.equal(matched.boot.model, LONG_MODEL, 'the model is kept as sent, not cut');
    assert.equal(await metric('gateway_compat_profile_chargers', { profile: 'long-strings' }), 1);
  });

  test('it reconnects and sends a StatusNotification without a BootNotification: judged by its remembered profile', async () => {
    await client('CP-LONG').close();
    await waitForGauge('long-strings', 0);

    const again = await connect('CP-LONG');
    const answer = await again.call('StatusNotification', status16({ info: LONG_INFO }));
    expectResult(answer);
    assertAnswersValid('ocpp1.6', again);
    const event = await sse.waitFor((e) => e.chargePointId === 'CP-LONG' && JSON.stringify(e).includes(LONG_INFO.slice(0, 50)), 5000, 'the status event of CP-LONG');
    assert.ok(!JSON.stringify(event).includes(LONG_INFO), 'the info text is cut to its 50-character limit before it is handled');
    assert.deepEqual((await detail('CP-LONG')).compat, { profile: 'long-strings', reason: 'model', model: { vendor: 'LongCo', model: LONG_MODEL } });
    assert.equal(await metric('gateway_compat_profile_chargers', { profile: 'long-strings' }), 1);
    assert.ok((await metric('gateway_compat_tolerances_applied_total', { profile: 'long-strings', tolerance: 'truncate-status-texts' })) >= 1);

    // The default charger sending the same is still refused.
    const plain = client('CP-PLAIN');
    const id = plain.sendCall('StatusNotification', status16({ info: LONG_INFO }));
    expectCallError(await plain.nextFrame(), id, 'PropertyConstraintViolation');
  });

  test('a rule on the vendor alone (no model) also matches: an unknown errorCode becomes OtherError, the original kept', async () => {
    const other = await connect('CP-OTHER');
    expectResult(await other.call('BootNotification', { chargePointVendor: 'OtherCo', chargePointModel: 'M1' }));
    expectResult(await other.call('StatusNotification', status16({ errorCode: 'Error', status: 'Faulted' })));
    const event = await sse.waitFor((e) => e.chargePointId === 'CP-OTHER' && JSON.stringify(e).includes('OtherError'), 5000, 'the status event of CP-OTHER');
    assert.match(JSON.stringify(event), /"vendorErrorCode":"Error"/);
    assertAnswersValid('ocpp1.6', other);
    assert.deepEqual((await detail('CP-OTHER')).compat, { profile: 'enum-aliases', reason: 'model', model: { vendor: 'OtherCo', model: 'M1' } });
  });
});

describe('profile named for a charger', () => {
  test('numbers and padded numbers as 1.6 sampled values become strings; the event carries the repaired values', async () => {
    const meter = await connect('CP-METER');
    const samples = [
      { value: 12.5, measurand: 'Energy.Active.Import.Register', unit: 'kWh' },
      { value: ' 1.7', measurand: 'Current.Import', unit: 'A' },
      { value: '50', measurand: 'Frequency', unit: 'Hz' },
    ];
    expectResult(await meter.call('MeterValues', meterValues16(samples)));
    assertAnswersValid('ocpp1.6', meter);
    const event = await sse.waitFor((e) => e.chargePointId === 'CP-METER' && JSON.stringify(e).includes('Current.Import'), 5000, 'the meter event of CP-METER');
    const text = JSON.stringify(event);
    assert.match(text, /"rawValue":"12.5"/, 'the number became its text');
    assert.match(text, /"rawValue":"1.7"/, 'the padding was trimmed');
    assert.match(text, /"unit":"Hertz"/, 'Hz reads as Hertz');
    assert.ok((await metric('gateway_compat_tolerances_applied_total', { profile: 'meter-values-lenient', tolerance: 'numbers-as-strings' })) >= 1);

    // A strict charger sending the same gets a TypeConstraintViolation.
    const plain = await connect('CP-PLAIN-METER');
    const id = plain.sendCall('MeterValues', meterValues16(samples));
    expectCallError(await plain.nextFrame(), id, 'TypeConstraintViolation');
  });

  test('CALLERROR spelling on 1.6: the 1.6 spec spelling by default, the 2.0.1 spelling for a charger whose profile asks for it', async () => {
    const spell = await connect('CP-SPELL');
    const plain = await connect('CP-PLAIN-SPELL');
    for (const [charger, occurrence, format] of [
      [plain, 'OccurenceConstraintViolation', 'FormationViolation'],
      [spell, 'OccurrenceConstraintViolation', 'FormatViolation'],
    ] as const) {
      const missing = charger.sendCall('BootNotification', { chargePointVendor: 'Acme' });
      expectCallError(await charger.nextFrame(), missing, occurrence);
      const extra = charger.sendCall('BootNotification', { ...bootPayload('ocpp1.6'), colour: 'red' });
      expectCallError(await charger.nextFrame(), extra, format);
    }
    assertAnswersValid('ocpp1.6', plain);
    assert.deepEqual((await detail('CP-SPELL')).compat, { profile: 'ocpp16-spelling-2.0.1', reason: 'charger' });
  });

  test("a text errorDetails in the charger's CALLERROR to a command: accepted and reported as { text }, the code read in 1.6 spelling", async () => {
    const spell = client('CP-SPELL');
    const pending = postCall(backend.adminUrl, 'CP-SPELL', { action: 'ChangeConfiguration', payload: { key: 'MeterValueSampleInterval', value: '60' }, timeoutMs: 5000 });
    const call = await nextCall(spell);
    assert.ok(schemaOracle('ocpp1.6').request('ChangeConfiguration', call[3]).valid, 'the command the gateway sent is schema-valid');
    spell.sendRaw(JSON.stringify([4, call[1], 'OccurrenceConstraintViolation', 'value out of range', 'errno 5 at 0x3f']));
    const res = await pending;
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, 'CALL_ERROR');
    assert.equal(res.body.error.ocppErrorCode, 'OccurenceConstraintViolation');
    assert.deepEqual(res.body.error.ocppErrorDetails, { text: 'errno 5 at 0x3f' });
    assert.equal(await metric('gateway_compat_tolerances_applied_total', { profile: 'ocpp16-spelling-2.0.1', tolerance: 'callerror-details-text' }), 1);

    // Without the tolerance the text is not passed on as if it were details.
    const plain = client('CP-PLAIN-SPELL');
    const pendingPlain = postCall(backend.adminUrl, 'CP-PLAIN-SPELL', { action: 'ChangeConfiguration', payload: { key: 'A', value: '1' }, timeoutMs: 5000 });
    const plainCall = await nextCall(plain);
    plain.sendRaw(JSON.stringify([4, plainCall[1], 'OccurrenceConstraintViolation', 'nope', 'errno 5']));
    const plainRes = await pendingPlain;
    assert.equal(plainRes.status, 502);
    assert.equal(plainRes.body.error.ocppErrorCode, 'OccurrenceConstraintViolation', 'passed on as sent');
    assert.ok(!JSON.stringify(plainRes.body).includes('errno 5'));
  });

  test('transaction-safety: a StopTransaction that breaks the schema is answered, never refused', async () => {
    const tx = await connect('CP-TX');
    const stop = {
      transactionId: 9,
      meterStop: 1200,
      timestamp: T(),
      reason: 'Local',
      transactionData: [{ timestamp: T(), sampledValue: [{ value: '1', context: 'CurrentMax' }] }],
    };
    expectResult(await tx.call('StopTransaction', stop));
    assertAnswersValid('ocpp1.6', tx);
    const plain = await connect('CP-PLAIN-TX');
    const id = plain.sendCall('StopTransaction', stop);
    expectCallError(await plain.nextFrame(), id, 'PropertyConstraintViolation');
  });

  test('a profile with strict answers: a command answer that breaks its schema is reported INVALID_RESPONSE', async () => {
    const own = await connect('CP-OWN');
    const pending = postCall(backend.adminUrl, 'CP-OWN', { action: 'ChangeConfiguration', payload: { key: 'A', value: '1' }, timeoutMs: 5000 });
    const call = await nextCall(own);
    own.sendRaw(JSON.stringify([3, call[1], { status: 'Maybe' }]));
    const res = await pending;
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, 'INVALID_RESPONSE');
    assert.match(res.body.error.message, /status/);
    assert.deepEqual((await detail('CP-OWN')).compat, { profile: 'answers-strict', reason: 'charger' });
  });
});

describe('invalid profile configuration', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown tolerance', { profiles: { mine: { tolerances: ['be-nice'] } } }, /compat\.profiles\.mine\.tolerances\.0: unknown tolerance "be-nice"/],
    [
      'an unknown action',
      { profiles: { mine: { calls: { actions: { BootNotifcation: 'log' } } } } },
      /compat\.profiles\.mine\.calls\.actions\.BootNotifcation: "BootNotifcation" is not an OCPP/,
    ],
    [
      'an action the charger does not send',
      { profiles: { mine: { calls: { actions: { Reset: 'off' } } } } },
      /"Reset" is not an OCPP 1\.6 or 2\.0\.1 action sent by a charger/,
    ],
    ['an unknown profile for a charger', { chargers: { 'CP-1': 'lenient' } }, /compat\.chargers\.CP-1: unknown compatibility profile "lenient"/],
    ['an unknown profile in a model rule', { models: [{ vendor: 'A', profile: 'x' }] }, /compat\.models\.0\.profile: unknown compatibility profile "x"/],
    ['a regex that does not compile', { models: [{ vendor: { regex: '(' }, profile: 'strict' }] }, /compat\.models\.0\.vendor/],
  ];
  for (const [what, compat, message] of bad) {
    test(`${what}: ConfigError naming the key`, () => {
      assert.throws(
        () => loadConfig({ configDir: '/nonexistent', env: {}, overrides: { compat } }),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  test('COMPAT_PROFILE_DEFAULT naming no profile: the real process exits with one line naming compat.default', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { COMPAT_PROFILE_DEFAULT: 'lenient' } });
    assert.ok(code !== 0 && code !== null);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /compat\.default \(COMPAT_PROFILE_DEFAULT\): unknown compatibility profile "lenient"/);
  });
});

async function nextCall(client: OcppClient): Promise<Frame> {
  const frame = await client.nextFrame(5000);
  assert.equal(frame[0], 2, `a CALL from the gateway, got ${JSON.stringify(frame)}`);
  return frame;
}

async function waitForGauge(profile: string, value: number): Promise<void> {
  const end = Date.now() + 5000;
  while ((await metric('gateway_compat_profile_chargers', { profile })) !== value) {
    if (Date.now() > end) assert.fail(`gateway_compat_profile_chargers{profile=${profile}} never reached ${value}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
