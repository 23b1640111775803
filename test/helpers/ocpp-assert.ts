/**
 * Assertions on what the gateway sends, and sample payloads per version.
 */
import assert from 'node:assert/strict';
import type { OcppVersion } from '../../src/ocpp/versions.js';
import type { Frame, OcppClient } from './ocpp-client.js';
import { schemaOracle } from './schema-oracle.js';

/** The CALLERROR codes each version defines, spelled as that version spells them. */
export const ERROR_CODES: Record<OcppVersion, ReadonlySet<string>> = {
  'ocpp1.6': new Set([
    'NotImplemented',
    'NotSupported',
    'InternalError',
    'ProtocolError',
    'SecurityError',
    'FormationViolation',
    'PropertyConstraintViolation',
    'OccurenceConstraintViolation',
    'TypeConstraintViolation',
    'GenericError',
  ]),
  'ocpp2.0.1': new Set([
    'FormatViolation',
    'GenericError',
    'InternalError',
    'MessageTypeNotSupported',
    'NotImplemented',
    'NotSupported',
    'OccurenceConstraintViolation',
    'PropertyConstraintViolation',
    'ProtocolError',
    'RpcFrameworkError',
    'SecurityError',
    'TypeConstraintViolation',
  ]),
};

/** The CALLRESULT's payload; fails unless `frame` is a CALLRESULT for `messageId`. */
export function expectResult(frame: Frame, messageId?: string): Record<string, any> {
  assert.equal(frame[0], 3, `expected a CALLRESULT, got ${JSON.stringify(frame).slice(0, 400)}`);
  if (messageId !== undefined) assert.equal(frame[1], messageId);
  assert.equal(frame.length, 3);
  assert.ok(frame[2] !== null && typeof frame[2] === 'object' && !Array.isArray(frame[2]), 'CALLRESULT payload is an object');
  return frame[2] as Record<string, any>;
}

/** Fails unless `frame` is a well-formed CALLERROR for `messageId` with exactly `code`. */
export function expectCallError(frame: Frame, messageId: string, code: string): { description: string; details: Record<string, unknown> } {
  assert.equal(frame[0], 4, `expected a CALLERROR ${code}, got ${JSON.stringify(frame).slice(0, 400)}`);
  assert.equal(frame.length, 5, 'a CALLERROR has 5 elements');
  assert.equal(frame[1], messageId, 'CALLERROR message id');
  assert.equal(frame[2], code, `error code (description: ${String(frame[3])})`);
  assert.equal(typeof frame[3], 'string', 'errorDescription is a string');
  assert.ok((frame[3] as string).length <= 255, 'errorDescription is at most 255 characters');
  const details = frame[4];
  assert.ok(details !== null && typeof details === 'object' && !Array.isArray(details), 'errorDetails is an object');
  return { description: frame[3] as string, details: details as Record<string, unknown> };
}

/**
 * Every answer this client received is valid: CALLRESULTs against the response schema of the action it answers
 * (for the client's own CALLs), CALLERRORs well-formed and with a code of the connection's version.
 * The schemas are read by the tests' own validator (schema-oracle.ts), not the gateway's.
 * Returns how many CALLRESULTs were schema-checked.
 */
export function assertAnswersValid(version: OcppVersion, client: OcppClient): number {
  let checked = 0;
  for (const frame of client.received) {
    if (frame[0] === 3) {
      const action = client.sentCalls.get(String(frame[1]));
      assert.ok(action !== undefined, `CALLRESULT for an id this client never sent: ${JSON.stringify(frame).slice(0, 200)}`);
      const verdict = schemaOracle(version).response(action, frame[2]);
      assert.ok(verdict.valid, `${version} ${action} answer breaks its schema: ${JSON.stringify(verdict.firstError)} in ${JSON.stringify(frame[2])}`);
      checked++;
    } else if (frame[0] === 4) {
      assert.equal(frame.length, 5, `CALLERROR arity: ${JSON.stringify(frame).slice(0, 200)}`);
      assert.equal(typeof frame[1], 'string');
      assert.ok(ERROR_CODES[version].has(String(frame[2])), `${String(frame[2])} is not a ${version} error code`);
      assert.equal(typeof frame[3], 'string');
      assert.ok((frame[3] as string).length <= 255);
      assert.ok(frame[4] !== null && typeof frame[4] === 'object' && !Array.isArray(frame[4]), 'errorDetails is an object');
    } else {
      assert.fail(`unexpected frame from the gateway: ${JSON.stringify(frame).slice(0, 200)}`);
    }
  }
  return checked;
}

export const T = () => new Date().toISOString();

export function bootPayload(version: OcppVersion, model: unknown = 'X1'): Record<string, unknown> {
  return version === 'ocpp1.6' ? { chargePointVendor: 'Acme', chargePointModel: model } : { reason: 'PowerUp', chargingStation: { vendorName: 'Acme', model } };
}

export function bootWithoutModel(version: OcppVersion): Record<string, unknown> {
  return version === 'ocpp1.6' ? { chargePointVendor: 'Acme' } : { reason: 'PowerUp', chargingStation: { vendorName: 'Acme' } };
}

export function statusPayload(version: OcppVersion, status: string, connectorId: unknown = 1): Record<string, unknown> {
  return version === 'ocpp1.6' ? { connectorId, errorCode: 'NoError', status, timestamp: T() } : { timestamp: T(), connectorStatus: status, evseId: 1, connectorId };
}

/** A DataTransfer whose whole CALL frame (with this id) is exactly `frameBytes` long. */
export function dataTransferFrameOfSize(messageId: string, frameBytes: number): string {
  // DataTransfer has the same shape in both versions: vendorId plus free data.
  const make = (data: string) => JSON.stringify([2, messageId, 'DataTransfer', { vendorId: 'com.example', data }]);
  const overhead = Buffer.byteLength(make(''));
  const text = make('x'.repeat(frameBytes - overhead));
  assert.equal(Buffer.byteLength(text), frameBytes);
  return text;
}
