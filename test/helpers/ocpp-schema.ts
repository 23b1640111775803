/**
 * An OCPP schema validator built by the tests themselves, straight from the `ocpp-rpc` package's schema files,
 * so a test's oracle for "is this answer valid" is never the gateway's own validators.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FormatsPlugin } from 'ajv-formats';

// ajv-formats is CommonJS; NodeNext types the default import as the module object.
const addFormats: FormatsPlugin =
  (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);

type Version = 'ocpp1.6' | 'ocpp2.0.1';
type Schema = Record<string, unknown>;

const FILES: Record<Version, string> = { 'ocpp1.6': 'ocpp1_6.json', 'ocpp2.0.1': 'ocpp2_0_1.json' };
const require = createRequire(import.meta.url);
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

function schemaOf(version: Version, id: string): Schema {
  const list = JSON.parse(readFileSync(require.resolve(`ocpp-rpc/lib/schemas/${FILES[version]}`), 'utf8')) as Schema[];
  const schema = list.find((s) => s.$id === id);
  assert.ok(schema, `${version} has no schema ${id}`);
  return schema;
}

/** Fails unless `payload` is a valid CALLRESULT payload for `action` in `version`. */
export function assertValidConf(version: Version, action: string, payload: unknown): void {
  const key = `${version} ${action}`;
  let validate = compiled.get(key);
  if (validate === undefined) {
    // The same $id exists in both versions: compile anonymously.
    const { $id: _id, ...rest } = schemaOf(version, `urn:${action}.conf`);
    compiled.set(key, (validate = ajv.compile(rest)));
  }
  assert.ok(validate(payload), `${version} ${action}.conf invalid: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(payload)}`);
}
