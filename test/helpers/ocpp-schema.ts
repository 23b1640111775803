/**
 * Assertions on answers against the official OCPP schemas, through the tests' own schema oracle
 * (`schema-oracle.ts`, compiled by the tests from the schema files), never the gateway's validators.
 */
import assert from 'node:assert/strict';
import { schemaOracle, type Version } from './schema-oracle.js';

/** Fails unless `payload` is a valid CALLRESULT payload for `action` in `version`. */
export function assertValidConf(version: Version, action: string, payload: unknown): void {
  const verdict = schemaOracle(version).response(action, payload);
  assert.ok(verdict.valid, `${version} ${action}.conf invalid: ${JSON.stringify(verdict.firstError)} in ${JSON.stringify(payload)}`);
}
