/**
 * The official OCPP JSON schemas, loaded as data.
 *
 * Source: the `ocpp-rpc` npm package (MIT licence, (c) Gareth Hughes), files
 * `lib/schemas/ocpp1_6.json` (OCPP 1.6 including the security-extension actions) and
 * `lib/schemas/ocpp2_0_1.json`. Each file is an array of draft-07 schemas whose `$id` is
 * `urn:<Action>.req` (the CALL payload) or `urn:<Action>.conf` (the CALLRESULT payload).
 * We read them as JSON rather than importing the package's code: the schemas are the only part
 * we need, and keeping them as data lets every layer (validation, catalogue tests, docs) share
 * one copy.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { OcppVersion } from './versions.js';

/** A JSON schema object as found in the files (draft-07, plus vendor keywords such as `javaType`). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The two payload schemas of one action. */
export interface ActionSchemas {
  readonly request: JsonSchema;
  readonly response: JsonSchema;
}

export type SchemaTable = ReadonlyMap<string, ActionSchemas>;

const FILES: Record<OcppVersion, string> = {
  'ocpp1.6': 'ocpp1_6.json',
  'ocpp2.0.1': 'ocpp2_0_1.json',
};

const ID_PATTERN = /^urn:([A-Za-z0-9]+)\.(req|conf)$/;

let cached: Record<OcppVersion, SchemaTable> | undefined;

/**
 * Per version, every action with its request and response schema. Read from disk once per process
 * and frozen, because the objects are shared by everyone who asks.
 */
export function loadOcppSchemas(): Record<OcppVersion, SchemaTable> {
  if (!cached) {
    const dir = schemaDirectory();
    cached = {
      'ocpp1.6': readTable(join(dir, FILES['ocpp1.6'])),
      'ocpp2.0.1': readTable(join(dir, FILES['ocpp2.0.1'])),
    };
  }
  return cached;
}

function schemaDirectory(): string {
  // The package has no `exports` map, so its package.json resolves and the schemas sit beside it.
  const pkg = createRequire(import.meta.url).resolve('ocpp-rpc/package.json');
  return join(dirname(pkg), 'lib', 'schemas');
}

function readTable(file: string): SchemaTable {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`OCPP schema file ${file} is not an array of schemas`);

  const requests = new Map<string, JsonSchema>();
  const responses = new Map<string, JsonSchema>();
  for (const schema of parsed as unknown[]) {
    const id = isObject(schema) ? schema.$id : undefined;
    const match = typeof id === 'string' ? ID_PATTERN.exec(id) : null;
    if (!match || !isObject(schema)) throw new Error(`OCPP schema file ${file} holds a schema with unexpected $id ${String(id)}`);
    const [, action, kind] = match;
    const target = kind === 'req' ? requests : responses;
    if (target.has(action)) throw new Error(`OCPP schema file ${file} defines ${id} twice`);
    target.set(action, deepFreeze(schema));
  }

  const table = new Map<string, ActionSchemas>();
  for (const [action, request] of requests) {
    const response = responses.get(action);
    if (!response) throw new Error(`OCPP schema file ${file} has urn:${action}.req but no urn:${action}.conf`);
    table.set(action, Object.freeze({ request, response }));
  }
  for (const action of responses.keys()) {
    if (!requests.has(action)) throw new Error(`OCPP schema file ${file} has urn:${action}.conf but no urn:${action}.req`);
  }
  return table;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
