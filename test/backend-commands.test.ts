/**
 * Commands from a backend to chargers through the admin HTTP API, end to end: real HTTP requests to the admin
 * port, real WebSocket test chargers on the charger port, and the `command.response` events on the SSE stream.
 */

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { type ReceivedCall, sleep, type TestCharger } from './helpers/backend-charger.js';
import { type ApiResponse, metricSample, postCall, readMetrics, SseStream } from './helpers/backend-http.js';

const MAX_QUEUED = 2;

let backend: BackendApp;
let sse: SseStream;
/** Every command this file sent, by commandId, with the outcome its HTTP answer reported. */
const sent = new Map<string, { chargePointId: string; action: string; status: 'completed' | 'rejected'; code?: string }>();

interface CommandAnswer extends ApiResponse {
  commandId: string;
}

/** Sends one command with a fresh commandId and remembers the outcome for the SSE checks. */
async function command(chargePointId: string, action: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<CommandAnswer> {
  const commandId = randomUUID();
  const res = await postCall(backend.adminUrl, chargePointId, { action, payload, commandId, ...extra });
  sent.set(commandId, {
    chargePointId,
    action,
    status: res.status === 200 ? 'completed' : 'rejected',
    code: res.status === 200 ? undefined : res.body?.error?.code,
  });
  return { ...res, commandId };
}

function expectCompleted(res: CommandAnswer, response: Record<string, unknown>): void {
  assert.equal(res.status, 200, `expected 200, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.commandId, res.commandId, 'the commandId given comes back');
  assert.equal(res.body.status, 'completed');
  assert.deepEqual(res.body.response, response, 'the charger response is returned as the charger sent it');
}

function expectFailure(res: CommandAnswer, status: number, code: string): Record<string, any> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.ok(res.body && typeof res.body.error === 'object', `an error body: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, code, `error code in ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body.error.message, 'string');
  assert.ok(res.body.error.message.length > 0, 'the error has a message');
  return res.body.error;
}

/** The command's `command.response` event, checked against what its HTTP answer said. */
async function expectCommandEvent(res: CommandAnswer, chargePointId: string, action: string): Promise<any> {
  const event = await sse.waitFor((e) => e.payload?.commandId === res.commandId, 5000, `command.response for ${action} ${res.commandId}`);
  assert.equal(event.eventType, 'command.response');
  assert.equal(event.chargePointId, chargePointId);
  assert.equal(event.gatewayId, backend.app.gateway.id);
  assert.equal(event.payload.action, action);
  if (res.status === 200) {
    assert.equal(event.payload.status, 'completed');
    assert.deepEqual(event.payload.response, res.body.response);
    assert.equal(event.payload.error, null);
  } else {
    assert.equal(event.payload.status, 'rejected');
    assert.equal(event.payload.error?.code, res.body.error.code, 'the event carries the same error code as the HTTP answer');
  }
  return event;
}

/** A 1.6 (or 2.0.1) charger that answers every CALL with `answers[action]` and records what it got. */
function answering(answers: Record<string, Record<string, unknown>>) {
  return (call: ReceivedCall) => (answers[call.action] ? { result: answers[call.action] } : { error: { code: 'NotImplemented', description: `no ${call.action} here` } });
}

function pendingCalls(identity: string): number {
  return backend.app.gateway.sessions.get(identity)?.rpc.pendingOutboundCalls ?? -1;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

describe('commands through the admin API reach real chargers and every outcome is reported', () => {
  before(async () => {
    backend = await startBackendApp({ overrides: { ocpp: { maxQueuedOutboundCalls: MAX_QUEUED } } });
    sse = await SseStream.open(backend.adminUrl, { eventType: 'command.response' });
  });

  after(async () => {
    await sse?.close();
    await backend?.stop();
  });

  test('RemoteStartTransaction (1.6) reaches the charger with the exact payload and its Accepted comes back', async () => {
    const charger = await backend.connect('CMD-RST-1', { handler: answering({ RemoteStartTransaction: { status: 'Accepted' } }) });
    const payload = {
      connectorId: 1,
      idTag: 'TAG-0001',
      chargingProfile: {
        chargingProfileId: 7,
        stackLevel: 0,
        chargingProfilePurpose: 'TxProfile',
        chargingProfileKind: 'Relative',
        chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [{ startPeriod: 0, limit: 16 }] },
      },
    };
    const res = await command('CMD-RST-1', 'RemoteStartTransaction', payload);
    expectCompleted(res, { status: 'Accepted' });
    assert.equal(charger.calls.length, 1, 'the charger got exactly one CALL');
    assert.equal(charger.calls[0].action, 'RemoteStartTransaction');
    assert.deepEqual(charger.calls[0].payload, payload, 'the payload reaches the charger unchanged');
    await expectCommandEvent(res, 'CMD-RST-1', 'RemoteStartTransaction');
  });

  const downlinks16: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['RemoteStopTransaction', { transactionId: 4711 }, { status: 'Accepted' }],
    ['ChangeConfiguration', { key: 'HeartbeatInterval', value: '120' }, { status: 'RebootRequired' }],
    ['TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 2 }, { status: 'Accepted' }],
    ['Reset', { type: 'Soft' }, { status: 'Accepted' }],
    ['UnlockConnector', { connectorId: 1 }, { status: 'Unlocked' }],
  ];
  for (const [action, payload, response] of downlinks16) {
    test(`${action} (1.6) reaches the charger as sent and its answer (${JSON.stringify(response)}) comes back`, async () => {
      const identity = `CMD-${action}`;
      const charger = await backend.connect(identity, { handler: answering({ [action]: response }) });
      const res = await command(identity, action, payload);
      expectCompleted(res, response);
      assert.deepEqual(
        charger.calls.map((c) => [c.action, c.payload]),
        [[action, payload]],
      );
      await expectCommandEvent(res, identity, action);
    });
  }

  test('a 2.0.1 charger gets RequestStartTransaction with the exact payload and its answer comes back', async () => {
    const charger = await backend.connect('CMD-201-RST', {
      protocol: 'ocpp2.0.1',
      handler: answering({ RequestStartTransaction: { status: 'Accepted', transactionId: 'tx-201-77' } }),
    });
    const payload = { idToken: { idToken: 'AB12CD34', type: 'ISO14443' }, remoteStartId: 77, evseId: 1 };
    const res = await command('CMD-201-RST', 'RequestStartTransaction', payload);
    expectCompleted(res, { status: 'Accepted', transactionId: 'tx-201-77' });
    assert.deepEqual(
      charger.calls.map((c) => [c.action, c.payload]),
      [['RequestStartTransaction', payload]],
    );
    const event = await expectCommandEvent(res, 'CMD-201-RST', 'RequestStartTransaction');
    assert.equal(event.protocol, 'ocpp2.0.1');
  });

  test('a charger that is not connected: 404 DEVICE_OFFLINE at once, never the timeout', async () => {
    const unknown = await command('CMD-NOBODY', 'Reset', { type: 'Hard' }, { timeoutMs: 20_000 });
    expectFailure(unknown, 404, 'DEVICE_OFFLINE');
    assert.ok(unknown.ms < 5000, `answered in ${unknown.ms} ms, not after the 20 s timeout`);
    await expectCommandEvent(unknown, 'CMD-NOBODY', 'Reset');

    // A charger that was here and left is offline too.
    const charger = await backend.connect('CMD-GONE', { handler: answering({ Reset: { status: 'Accepted' } }) });
    await charger.close();
    await until(() => backend.app.gateway.sessions.get('CMD-GONE') === undefined, 3000, 'the session to end');
    const gone = await command('CMD-GONE', 'Reset', { type: 'Hard' }, { timeoutMs: 20_000 });
    expectFailure(gone, 404, 'DEVICE_OFFLINE');
    assert.ok(gone.ms < 5000, `answered in ${gone.ms} ms`);
    await expectCommandEvent(gone, 'CMD-GONE', 'Reset');
  });

  test('a payload that breaks the schema (Reset type "Sideways"): 400 INVALID_COMMAND_PAYLOAD with the schema errors, nothing sent', async () => {
    const charger = await backend.connect('CMD-BADPAYLOAD', { handler: answering({ Reset: { status: 'Accepted' }, UnlockConnector: { status: 'Unlocked' } }) });
    const res = await command('CMD-BADPAYLOAD', 'Reset', { type: 'Sideways' });
    const error = expectFailure(res, 400, 'INVALID_COMMAND_PAYLOAD');
    assert.ok(Array.isArray(error.errors) && error.errors.length > 0, `schema errors listed: ${JSON.stringify(error)}`);
    assert.match(JSON.stringify(error.errors), /type/, 'the errors name the offending field');
    await expectCommandEvent(res, 'CMD-BADPAYLOAD', 'Reset');

    const missing = await command('CMD-BADPAYLOAD', 'UnlockConnector', {});
    const missingError = expectFailure(missing, 400, 'INVALID_COMMAND_PAYLOAD');
    assert.match(JSON.stringify(missingError.errors), /connectorId/, 'a missing required field is named');
    await expectCommandEvent(missing, 'CMD-BADPAYLOAD', 'UnlockConnector');

    await sleep(200);
    assert.deepEqual(charger.calls, [], 'an invalid command never reaches the charger');
  });

  test('an action of the wrong version or direction: 400 INVALID_COMMAND_PAYLOAD, nothing sent', async () => {
    const c16 = await backend.connect('CMD-WRONG-16', { handler: answering({}) });
    const c201 = await backend.connect('CMD-WRONG-201', { protocol: 'ocpp2.0.1', handler: answering({}) });

    const cases: Array<[string, string, Record<string, unknown>]> = [
      // 2.0.1 action to a 1.6 charger
      ['CMD-WRONG-16', 'RequestStartTransaction', { idToken: { idToken: 'A', type: 'ISO14443' }, remoteStartId: 1 }],
      // 1.6 action to a 2.0.1 charger
      ['CMD-WRONG-201', 'RemoteStartTransaction', { idTag: 'A' }],
      // charger-to-central actions are not commands
      ['CMD-WRONG-16', 'BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'X1' }],
      ['CMD-WRONG-201', 'Heartbeat', {}],
    ];
    for (const [identity, action, payload] of cases) {
      const res = await command(identity, action, payload);
      expectFailure(res, 400, 'INVALID_COMMAND_PAYLOAD');
      await expectCommandEvent(res, identity, action);
    }
    const unknown = await postCall(backend.adminUrl, 'CMD-WRONG-16', { action: 'Teleport', payload: { to: 'Mars' } });
    assert.equal(unknown.status, 400, `an unknown action is refused with 400: ${JSON.stringify(unknown.body)}`);

    await sleep(200);
    assert.deepEqual(c16.calls, [], 'nothing reached the 1.6 charger');
    assert.deepEqual(c201.calls, [], 'nothing reached the 2.0.1 charger');
  });

  test('a charger that never answers: 504 TIMEOUT after the command timeout', async () => {
    const charger = await backend.connect('CMD-SILENT', { handler: () => undefined });
    const res = await command('CMD-SILENT', 'Reset', { type: 'Soft' }, { timeoutMs: 300 });
    expectFailure(res, 504, 'TIMEOUT');
    assert.ok(res.ms >= 250, `the command waited for its timeout (${res.ms} ms)`);
    assert.equal(charger.calls.length, 1, 'the CALL was sent once, not retried');
    assert.equal(charger.calls[0].action, 'Reset');
    await expectCommandEvent(res, 'CMD-SILENT', 'Reset');
  });

  test('a charger answering with a CALLERROR: 502 CALL_ERROR with its OCPP error code and description', async () => {
    await backend.connect('CMD-CALLERROR', {
      handler: () => ({ error: { code: 'NotSupported', description: 'unlocking is not supported here', details: { hint: 'fixed cable' } } }),
    });
    const res = await command('CMD-CALLERROR', 'UnlockConnector', { connectorId: 1 });
    const error = expectFailure(res, 502, 'CALL_ERROR');
    assert.equal(error.ocppErrorCode, 'NotSupported');
    assert.match(JSON.stringify(error), /unlocking is not supported here/, "the charger's description is passed on");
    const event = await expectCommandEvent(res, 'CMD-CALLERROR', 'UnlockConnector');
    assert.equal(event.payload.error.ocppErrorCode, 'NotSupported');
  });

  test('odd CALLERRORs (string errorDetails, no errorDetails at all) still give 502 CALL_ERROR with the code', async () => {
    const charger = await backend.connect('CMD-ODD-ERROR', { handler: () => undefined });
    const stringDetails = command('CMD-ODD-ERROR', 'ChangeConfiguration', { key: 'A', value: '1' }, { timeoutMs: 5000 });
    const first = await charger.waitForCall((c) => c.payload.key === 'A');
    charger.reply(first.messageId, { frame: [4, first.messageId, 'InternalError', 'flash write failed', 'errno 5 at 0x3f'] });
    const res1 = await stringDetails;
    const error1 = expectFailure(res1, 502, 'CALL_ERROR');
    assert.equal(error1.ocppErrorCode, 'InternalError');
    await expectCommandEvent(res1, 'CMD-ODD-ERROR', 'ChangeConfiguration');

    const noDetails = command('CMD-ODD-ERROR', 'ChangeConfiguration', { key: 'B', value: '2' }, { timeoutMs: 5000 });
    const second = await charger.waitForCall((c) => c.payload.key === 'B');
    charger.reply(second.messageId, { frame: [4, second.messageId, 'GenericError', 'no'] });
    const res2 = await noDetails;
    const error2 = expectFailure(res2, 502, 'CALL_ERROR');
    assert.equal(error2.ocppErrorCode, 'GenericError');
    await expectCommandEvent(res2, 'CMD-ODD-ERROR', 'ChangeConfiguration');
  });

  test('a CALLRESULT after the timeout is counted as late and not delivered twice', async () => {
    const lateBefore = metricSample(await readMetrics(backend.adminUrl), 'ocpp_unmatched_responses_total', { kind: 'late' }) ?? 0;
    const charger = await backend.connect('CMD-LATE', { handler: () => undefined });
    const timedOut = await command('CMD-LATE', 'ChangeConfiguration', { key: 'L1', value: '1' }, { timeoutMs: 300 });
    expectFailure(timedOut, 504, 'TIMEOUT');
    const first = await charger.waitForCall((c) => c.payload.key === 'L1');
    charger.reply(first.messageId, { result: { status: 'Accepted' } });

    // The next command gets its own answer, not the late one.
    const next = command('CMD-LATE', 'ChangeConfiguration', { key: 'L2', value: '2' }, { timeoutMs: 5000 });
    const second = await charger.waitForCall((c) => c.payload.key === 'L2');
    assert.notEqual(second.messageId, first.messageId);
    charger.reply(second.messageId, { result: { status: 'Rejected' } });
    const nextRes = await next;
    expectCompleted(nextRes, { status: 'Rejected' });

    let late = lateBefore;
    const end = Date.now() + 3000;
    while (late !== lateBefore + 1 && Date.now() < end) {
      await sleep(50);
      late = metricSample(await readMetrics(backend.adminUrl), 'ocpp_unmatched_responses_total', { kind: 'late' }) ?? 0;
    }
    assert.equal(late, lateBefore + 1, 'ocpp_unmatched_responses_total{kind="late"} counts the late answer once');
    assert.equal(metricSample(await readMetrics(backend.adminUrl), 'ocpp_unmatched_responses_total', { kind: 'late' }), lateBefore + 1);

    await expectCommandEvent(timedOut, 'CMD-LATE', 'ChangeConfiguration');
    // Events of one charger keep order: once the next command's event is here, a duplicate would be too.
    await expectCommandEvent(nextRes, 'CMD-LATE', 'ChangeConfiguration');
    const forFirst = sse.envelopes.filter((e) => e.payload?.commandId === timedOut.commandId);
    assert.equal(forFirst.length, 1, 'one command.response for the timed-out command, none for its late answer');
    assert.equal(forFirst[0].payload.status, 'rejected');
    assert.equal(forFirst[0].payload.error.code, 'TIMEOUT');
  });

  test(`a full queue (${MAX_QUEUED} waiting behind the one in flight): the rest get 429 QUEUE_FULL at once`, async () => {
    const charger = await backend.connect('CMD-FULL', { handler: () => undefined });
    const total = MAX_QUEUED + 1 + 3;
    const results = await Promise.all(
      Array.from({ length: total }, (_, i) => command('CMD-FULL', 'ChangeConfiguration', { key: `Q${i}`, value: String(i) }, { timeoutMs: 1000 })),
    );
    const byStatus = (status: number) => results.filter((r) => r.status === status);
    assert.equal(byStatus(429).length, 3, `statuses: ${results.map((r) => r.status).join(', ')}`);
    assert.equal(byStatus(504).length, MAX_QUEUED + 1, 'the one in flight and the queued ones time out in turn');
    // Exactly three refusals also shows they came at once: after a timeout the queue would have had room.
    for (const r of byStatus(429)) expectFailure(r, 429, 'QUEUE_FULL');
    for (const r of byStatus(504)) expectFailure(r, 504, 'TIMEOUT');
    assert.equal(charger.calls.length, MAX_QUEUED + 1, 'only the accepted commands reached the charger');
    const refusedKeys = new Set(byStatus(429).map((r) => r.commandId));
    assert.equal(refusedKeys.size, 3);
    for (const r of results) await expectCommandEvent(r, 'CMD-FULL', 'ChangeConfiguration');
  });

  test('commands to one charger go one at a time in FIFO order: the second CALL only after the first is answered', async () => {
    const charger = await backend.connect('CMD-FIFO', { handler: () => undefined });
    const a = command('CMD-FIFO', 'ChangeConfiguration', { key: 'A', value: '1' }, { timeoutMs: 10_000 });
    const callA = await charger.waitForCall((c) => c.payload.key === 'A');
    const b = command('CMD-FIFO', 'ChangeConfiguration', { key: 'B', value: '2' }, { timeoutMs: 10_000 });
    await until(() => pendingCalls('CMD-FIFO') === 2, 3000, 'B to be queued');
    const c = command('CMD-FIFO', 'ChangeConfiguration', { key: 'C', value: '3' }, { timeoutMs: 10_000 });
    await until(() => pendingCalls('CMD-FIFO') === 3, 3000, 'C to be queued');

    await sleep(300);
    assert.deepEqual(
      charger.calls.map((x) => x.payload.key),
      ['A'],
      'only A is in flight while it is unanswered',
    );
    charger.reply(callA.messageId, { result: { status: 'Accepted' } });
    expectCompleted(await a, { status: 'Accepted' });

    const callB = await charger.waitForCall((x) => x.payload.key === 'B');
    assert.equal(callB.answeredBefore, 1, 'B arrived after A was answered');
    await sleep(300);
    assert.deepEqual(
      charger.calls.map((x) => x.payload.key),
      ['A', 'B'],
      'C waits while B is unanswered',
    );
    charger.reply(callB.messageId, { result: { status: 'Rejected' } });
    expectCompleted(await b, { status: 'Rejected' });

    const callC = await charger.waitForCall((x) => x.payload.key === 'C');
    assert.equal(callC.answeredBefore, 2, 'C arrived after B was answered');
    charger.reply(callC.messageId, { result: { status: 'RebootRequired' } });
    const resC = await c;
    expectCompleted(resC, { status: 'RebootRequired' });
    assert.deepEqual(
      charger.calls.map((x) => x.payload.key),
      ['A', 'B', 'C'],
    );
    for (const r of [await a, await b, resC]) await expectCommandEvent(r, 'CMD-FIFO', 'ChangeConfiguration');
  });

  test('the in-flight and queued commands of a charger that disconnects fail with DEVICE_OFFLINE at once', async () => {
    const charger = await backend.connect('CMD-DROP', { handler: () => undefined });
    const a = command('CMD-DROP', 'ChangeConfiguration', { key: 'A', value: '1' }, { timeoutMs: 20_000 });
    await charger.waitForCall((c) => c.payload.key === 'A');
    const b = command('CMD-DROP', 'ChangeConfiguration', { key: 'B', value: '2' }, { timeoutMs: 20_000 });
    await until(() => pendingCalls('CMD-DROP') === 2, 3000, 'B to be queued');
    const c = command('CMD-DROP', 'Reset', { type: 'Soft' }, { timeoutMs: 20_000 });
    await until(() => pendingCalls('CMD-DROP') === 3, 3000, 'C to be queued');

    const droppedAt = Date.now();
    await charger.terminate();
    const results = await Promise.all([a, b, c]);
    const took = Date.now() - droppedAt;
    assert.ok(took < 5000, `the commands failed ${took} ms after the disconnect, not at their 20 s timeout`);
    for (const r of results) expectFailure(r, 404, 'DEVICE_OFFLINE');
    await expectCommandEvent(results[0], 'CMD-DROP', 'ChangeConfiguration');
    await expectCommandEvent(results[1], 'CMD-DROP', 'ChangeConfiguration');
    await expectCommandEvent(results[2], 'CMD-DROP', 'Reset');
  });

  test('every command sent above appears exactly once as a command.response event with its outcome', async () => {
    assert.ok(sent.size >= 30, `commands sent: ${sent.size}`);
    for (const commandId of sent.keys()) {
      await sse.waitFor((e) => e.payload?.commandId === commandId, 3000, `command.response ${commandId}`);
    }
    for (const [commandId, outcome] of sent) {
      const events = sse.envelopes.filter((e) => e.payload?.commandId === commandId);
      assert.equal(events.length, 1, `${outcome.action} ${commandId}: ${events.length} command.response events`);
      assert.equal(events[0].chargePointId, outcome.chargePointId);
      assert.equal(events[0].payload.status, outcome.status, `${outcome.action} to ${outcome.chargePointId}`);
      if (outcome.code !== undefined) assert.equal(events[0].payload.error.code, outcome.code);
    }
    assert.ok(
      sse.events.every((e) => e.event === undefined || e.event === 'command.response'),
      `the eventType filter holds: ${[...new Set(sse.events.map((e) => e.event))].join(', ')}`,
    );
  });
});
