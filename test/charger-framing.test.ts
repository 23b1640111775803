/**
 * OCPP-J framing and CALLERROR codes, through a real socket, for both versions with each version's own spelling.
 * One connection per version carries every bad frame: after each one, the next valid CALL must be answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OCPP_VERSIONS, type OcppVersion } from '../src/ocpp/versions.js';
import { type GatewayHarness, metricValue, startGateway } from './helpers/gateway-harness.js';
import { assertAnswersValid, bootPayload, bootWithoutModel, expectCallError, expectResult, statusPayload } from './helpers/ocpp-assert.js';
import { nextId, OcppClient } from './helpers/ocpp-client.js';

type Codes = Record<OcppVersion, string | null>;

/** The same meaning, spelled per version. */
const both = (code: string): Codes => ({ 'ocpp1.6': code, 'ocpp2.0.1': code });
const FRAMING: Codes = { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'RpcFrameworkError' };
const FORMAT: Codes = { 'ocpp1.6': 'FormationViolation', 'ocpp2.0.1': 'FormatViolation' };

interface BadFrameCase {
  name: string;
  /** The text to send, given a fresh message id. */
  text: (id: string, version: OcppVersion) => string;
  /** The code expected, or null when the version prescribes no answer. */
  codes: Codes;
  /** The id the answer carries: the sent one, unless given (2.0.1 answers unreadable frames with "-1"). */
  answerId?: string;
}

const call = (id: string, action: unknown, payload: unknown) => JSON.stringify([2, id, action, payload]);

const CASES: BadFrameCase[] = [
  { name: 'broken JSON', text: (id) => `[2,"${id}","Heartbeat",{`, codes: { 'ocpp1.6': null, 'ocpp2.0.1': 'RpcFrameworkError' }, answerId: '-1' },
  { name: 'JSON that is not an array', text: () => '{"hello":"world"}', codes: { 'ocpp1.6': null, 'ocpp2.0.1': 'RpcFrameworkError' }, answerId: '-1' },
  { name: 'an empty array', text: () => '[]', codes: { 'ocpp1.6': null, 'ocpp2.0.1': 'RpcFrameworkError' }, answerId: '-1' },
  { name: 'a CALL whose id is a number', text: () => '[2,17,"Heartbeat",{}]', codes: { 'ocpp1.6': null, 'ocpp2.0.1': 'RpcFrameworkError' }, answerId: '-1' },
  { name: '[2,"id"] (CALL without action and payload)', text: (id) => JSON.stringify([2, id]), codes: FRAMING },
  { name: 'a CALL with a fifth element', text: (id) => JSON.stringify([2, id, 'Heartbeat', {}, 'extra']), codes: FRAMING },
  { name: 'message type 5', text: (id) => JSON.stringify([5, id, 'Heartbeat', {}]), codes: { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'MessageTypeNotSupported' } },
  { name: 'message type 6', text: (id) => JSON.stringify([6, id, 'Heartbeat', {}]), codes: { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'MessageTypeNotSupported' } },
  { name: 'a message id of 37 characters', text: (id) => call(`${id}-`.padEnd(37, 'z'), 'Heartbeat', {}), codes: FRAMING },
  { name: 'an action that is not a string', text: (id) => call(id, 42, {}), codes: FRAMING },
  { name: 'a payload that is an array', text: (id) => call(id, 'Heartbeat', []), codes: FORMAT },
  { name: 'a payload that is a string', text: (id) => call(id, 'Heartbeat', 'x'), codes: FORMAT },
  { name: 'a payload that is null', text: (id) => call(id, 'Heartbeat', null), codes: FORMAT },
  // A CALLERROR answers a CALL, never a CALLRESULT or a CALLERROR, however broken they are.
  { name: 'a CALLRESULT with a 37-character id', text: (id) => JSON.stringify([3, `${id}-`.padEnd(37, 'r'), {}]), codes: { 'ocpp1.6': null, 'ocpp2.0.1': null } },
  { name: 'a CALLRESULT whose id is a number', text: () => JSON.stringify([3, 42, {}]), codes: { 'ocpp1.6': null, 'ocpp2.0.1': null } },
  { name: 'a CALLERROR whose id is a number', text: () => JSON.stringify([4, 42, 'GenericError', '', {}]), codes: { 'ocpp1.6': null, 'ocpp2.0.1': null } },
  { name: 'a CALLRESULT without payload', text: (id) => JSON.stringify([3, id]), codes: { 'ocpp1.6': null, 'ocpp2.0.1': null } },
  { name: 'a CALLERROR whose code is not a string', text: (id) => JSON.stringify([4, id, 7, '', {}]), codes: { 'ocpp1.6': null, 'ocpp2.0.1': null } },
  { name: 'an unknown action FakeAction', text: (id) => call(id, 'FakeAction', {}), codes: both('NotImplemented') },
  { name: 'an empty action', text: (id) => call(id, '', {}), codes: both('NotImplemented') },
  { name: 'an unknown action of 300 characters', text: (id) => call(id, 'A'.repeat(300), {}), codes: both('NotImplemented') },
  { name: 'an action in the wrong case (heartbeat)', text: (id) => call(id, 'heartbeat', {}), codes: both('NotImplemented') },
  {
    name: 'an action of the other version (2.0.1 TransactionEvent on 1.6, 1.6 StartTransaction on 2.0.1)',
    text: (id, v) =>
      v === 'ocpp1.6'
        ? call(id, 'TransactionEvent', {
            eventType: 'Started',
            timestamp: new Date().toISOString(),
            triggerReason: 'Authorized',
            seqNo: 0,
            transactionInfo: { transactionId: 'a' },
          })
        : call(id, 'StartTransaction', { connectorId: 1, idTag: 'TAG', meterStart: 0, timestamp: new Date().toISOString() }),
    codes: both('NotImplemented'),
  },
  {
    name: 'a central-system action sent by the charger (Reset)',
    text: (id, v) => call(id, 'Reset', v === 'ocpp1.6' ? { type: 'Hard' } : { type: 'Immediate' }),
    codes: both('NotSupported'),
  },
  {
    name: 'BootNotification without its model (required field missing)',
    text: (id, v) => call(id, 'BootNotification', bootWithoutModel(v)),
    codes: both('OccurenceConstraintViolation'),
  },
  {
    name: 'BootNotification with a 21-character model (too long)',
    text: (id, v) => call(id, 'BootNotification', bootPayload(v, 'M'.repeat(21))),
    codes: both('PropertyConstraintViolation'),
  },
  {
    name: 'StatusNotification with an unknown status (enum)',
    text: (id, v) => call(id, 'StatusNotification', statusPayload(v, 'Sleeping')),
    codes: both('PropertyConstraintViolation'),
  },
  {
    name: 'StatusNotification with connectorId "1" (a string for an integer)',
    text: (id, v) => call(id, 'StatusNotification', statusPayload(v, 'Available', '1')),
    codes: both('TypeConstraintViolation'),
  },
  {
    name: 'BootNotification with an unknown extra property',
    text: (id, v) => call(id, 'BootNotification', { ...bootPayload(v), colour: 'red' }),
    codes: FORMAT,
  },
];

describe('charger framing and CALLERROR codes', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGateway();
  });
  after(async () => {
    await h.stop();
  });

  for (const version of OCPP_VERSIONS) {
    describe(version, () => {
      let client: OcppClient;
      before(async () => {
        client = await OcppClient.connect(h.url, `FRAMING-${version}`, [version]);
        assert.equal(client.protocol, version);
      });
      after(async () => {
        await client.close();
      });

      /** A valid CALL must be answered, and its answer must be the very next frame. */
      async function stillAnswered(): Promise<void> {
        const id = nextId();
        client.sendCall('Heartbeat', {}, id);
        const payload = expectResult(await client.nextFrame(), id);
        assert.equal(typeof payload.currentTime, 'string');
      }

      for (const c of CASES) {
        const code = c.codes[version];
        it(`${c.name} → ${code ?? 'no answer'}, and the next CALL is answered`, async () => {
          const id = nextId();
          const text = c.text(id, version);
          try {
            client.sendRaw(text);
            if (code !== null) {
              const expectedId = c.answerId ?? (JSON.parse(text) as unknown[])[1];
              const { description } = expectCallError(await client.nextFrame(), String(expectedId), code);
              assert.ok(description.length > 0, 'the description says what is wrong');
            }
            await stillAnswered();
            assert.ok(client.isOpen);
          } catch (err) {
            // Leave the shared connection in step for the next case: drop whatever this case left behind.
            await new Promise((r) => setTimeout(r, 200));
            client.drain();
            throw err;
          }
        });
      }

      it('a message id of exactly 36 characters is valid and answered', async () => {
        const id = `${nextId()}-`.padEnd(36, 'q');
        assert.equal(id.length, 36);
        expectResult(await client.call('Heartbeat', {}, { messageId: id }), id);
      });

      it('a binary frame holding a CALL gets a framing CALLERROR with its id; the connection stays open', async () => {
        const id = nextId();
        client.sendRaw(Buffer.from(call(id, 'Heartbeat', {})), { binary: true });
        expectCallError(await client.nextFrame(), id, FRAMING[version]!);
        await stillAnswered();
        assert.ok(client.isOpen);
      });

      it('a binary frame that is not JSON is not answered (2.0.1 included); the connection stays usable', async () => {
        client.sendRaw(Buffer.from([0xff, 0x00, 0x13, 0x37]), { binary: true });
        await stillAnswered();
      });

      it('CALLRESULT and CALLERROR with an unknown id are ignored, counted, and the connection stays usable', async () => {
        const before = await metricValue(h.gateway, 'ocpp_unmatched_responses_total');
        client.sendRaw(JSON.stringify([3, nextId(), { status: 'Accepted' }]));
        client.sendRaw(JSON.stringify([4, nextId(), 'GenericError', 'nobody asked', {}]));
        // Some firmware sends errorDetails as a string: still just an unmatched answer.
        client.sendRaw(JSON.stringify([4, nextId(), 'InternalError', 'nobody asked', 'text details']));
        await stillAnswered();
        assert.equal(await metricValue(h.gateway, 'ocpp_unmatched_responses_total'), before + 3);
        assert.equal(await metricValue(h.gateway, 'ocpp_unmatched_responses_total', { kind: 'unknown' }), before + 3);
      });

      it('a valid BootNotification is still accepted on the connection that carried all the bad frames', async () => {
        const reply = await client.call('BootNotification', bootPayload(version));
        const payload = expectResult(reply);
        assert.equal(payload.status, 'Accepted');
      });

      it('every answer the gateway sent on this connection is valid', () => {
        // One Heartbeat after each bad case, and one CALLRESULT in each of the five tests after them.
        assert.equal(assertAnswersValid(version, client), CASES.length + 5, 'schema-checked CALLRESULTs');
      });
    });
  }

  it('malformed frames and CALLERRORs are counted in the metrics, once per frame', async () => {
    for (const version of OCPP_VERSIONS) {
      const client = await OcppClient.connect(h.url, `METRICS-${version}`, [version]);
      try {
        const messageTypeCode = version === 'ocpp1.6' ? 'ProtocolError' : 'MessageTypeNotSupported';
        const counts = async () => ({
          notJson: await metricValue(h.gateway, 'ocpp_malformed_frames_total', { problem: 'not_json' }),
          binary: await metricValue(h.gateway, 'ocpp_malformed_frames_total', { problem: 'binary_frame' }),
          format: await metricValue(h.gateway, 'ocpp_callerrors_sent_total', { code: FORMAT[version]! }),
          messageType: await metricValue(h.gateway, 'ocpp_callerrors_sent_total', { code: messageTypeCode }),
        });
        const before = await counts();
        client.sendRaw('not json');
        client.sendRaw('[2,"x",');
        client.sendRaw(Buffer.from([0xff, 0x00]), { binary: true });
        const formatId = nextId();
        client.sendRaw(call(formatId, 'Heartbeat', []));
        const typeId = nextId();
        client.sendRaw(JSON.stringify([5, typeId, 'Heartbeat', {}]));
        if (version === 'ocpp2.0.1') {
          // 2.0.1 answers the two unreadable frames with "-1"; 1.6 has no one to answer.
          expectCallError(await client.nextFrame(), '-1', 'RpcFrameworkError');
          expectCallError(await client.nextFrame(), '-1', 'RpcFrameworkError');
        }
        expectCallError(await client.nextFrame(), formatId, FORMAT[version]!);
        expectCallError(await client.nextFrame(), typeId, messageTypeCode);
        expectResult(await client.call('Heartbeat', {}));
        const after = await counts();
        assert.deepEqual(
          {
            notJson: after.notJson - before.notJson,
            binary: after.binary - before.binary,
            format: after.format - before.format,
            messageType: after.messageType - before.messageType,
          },
          { notJson: 2, binary: 1, format: 1, messageType: 1 },
        );
      } finally {
        await client.close();
      }
    }
  });

  it('a CALL named after the other version\'s action is counted as action "unknown", whichever version sent the name first', async () => {
    const v201 = await OcppClient.connect(h.url, 'OTHER-NAME-201', ['ocpp2.0.1']);
    const v16 = await OcppClient.connect(h.url, 'OTHER-NAME-16', ['ocpp1.6']);
    try {
      const inboundCalls = async () => ({
        named: await metricValue(h.gateway, 'ocpp_messages_total', { direction: 'in', type: 'call', action: 'TransactionEvent' }),
        unknown: await metricValue(h.gateway, 'ocpp_messages_total', { direction: 'in', type: 'call', action: 'unknown' }),
      });
      const before = await inboundCalls();
      // 2.0.1 defines TransactionEvent: counted under its name, whatever the schema says of its payload.
      const namedId = nextId();
      v201.sendRaw(call(namedId, 'TransactionEvent', {}));
      expectCallError(await v201.nextFrame(), namedId, 'OccurenceConstraintViolation'); // 2.0.1's own spelling
      // 1.6 does not: the same name is refused and counted as unknown, not under the name 2.0.1 gave it cells.
      const unknownId = nextId();
      v16.sendRaw(call(unknownId, 'TransactionEvent', {}));
      expectCallError(await v16.nextFrame(), unknownId, 'NotImplemented');
      const after = await inboundCalls();
      assert.deepEqual({ named: after.named - before.named, unknown: after.unknown - before.unknown }, { named: 1, unknown: 1 });
    } finally {
      await v201.close();
      await v16.close();
    }
  });
});

describe('validation modes per action', () => {
  const MODEL_23 = 'M'.repeat(23);
  for (const version of OCPP_VERSIONS) {
    for (const mode of ['strict', 'log', 'off'] as const) {
      it(`${version}: BootNotification with a 23-character model, validation ${mode} → ${mode === 'strict' ? 'PropertyConstraintViolation' : 'Accepted'}`, async () => {
        const h = await startGateway(mode === 'strict' ? {} : { overrides: { ocpp: { validation: { actions: { BootNotification: mode } } } } });
        const client = await OcppClient.connect(h.url, `MODE-${mode}`, [version]);
        try {
          const id = nextId();
          const reply = await client.call('BootNotification', bootPayload(version, MODEL_23), { messageId: id });
          if (mode === 'strict') {
            expectCallError(reply, id, 'PropertyConstraintViolation');
          } else {
            assert.equal(expectResult(reply, id).status, 'Accepted');
          }
          // The mode is per action: another action is still strictly checked.
          const id2 = nextId();
          expectCallError(await client.call('StatusNotification', statusPayload(version, 'Available', '1'), { messageId: id2 }), id2, 'TypeConstraintViolation');
          const failures = await metricValue(h.gateway, 'ocpp_validation_failures_total', { action: 'BootNotification' });
          assert.equal(failures, mode === 'off' ? 0 : 1);
          if (mode === 'log') assert.equal(await metricValue(h.gateway, 'ocpp_validation_failures_total', { action: 'BootNotification', mode: 'log' }), 1);
          assertAnswersValid(version, client);
        } finally {
          await client.close();
          await h.stop();
        }
      });
    }
  }
});
