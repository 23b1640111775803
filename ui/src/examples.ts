/**
 * A starting payload for the command form: hand-picked for the commands operators send most (and for the ones
 * whose first enum value would be a bad default, such as a hard reset), otherwise the smallest payload the
 * action's schema accepts, built from its required fields.
 */
import type { Protocol } from './types';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;

const CHOSEN: Record<string, Partial<Record<Protocol, Json>>> = {
  RemoteStartTransaction: { 'ocpp1.6': { idTag: 'OPERATOR', connectorId: 1 } },
  RemoteStopTransaction: { 'ocpp1.6': { transactionId: 1 } },
  RequestStartTransaction: { 'ocpp2.0.1': { idToken: { idToken: 'OPERATOR', type: 'Central' }, remoteStartId: 1, evseId: 1 } },
  Reset: { 'ocpp1.6': { type: 'Soft' }, 'ocpp2.0.1': { type: 'OnIdle' } },
  TriggerMessage: { 'ocpp1.6': { requestedMessage: 'Heartbeat' }, 'ocpp2.0.1': { requestedMessage: 'Heartbeat' } },
  ChangeAvailability: { 'ocpp1.6': { connectorId: 0, type: 'Operative' }, 'ocpp2.0.1': { operationalStatus: 'Operative' } },
  GetConfiguration: { 'ocpp1.6': {} },
  ChangeConfiguration: { 'ocpp1.6': { key: 'HeartbeatInterval', value: '300' } },
  DataTransfer: { 'ocpp1.6': { vendorId: 'operator' }, 'ocpp2.0.1': { vendorId: 'operator' } },
};

export function examplePayload(protocol: Protocol, action: string, schema: Schema): Json {
  const chosen = CHOSEN[action]?.[protocol];
  if (chosen !== undefined) return chosen;
  return minimal(schema, schema, 0) ?? {};
}

function resolve(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let target: unknown = root;
  for (const part of ref.slice(2).split('/')) target = (target as Record<string, unknown> | undefined)?.[part];
  return typeof target === 'object' && target !== null ? (target as Schema) : {};
}

function minimal(raw: Schema, root: Schema, depth: number): Json | undefined {
  if (depth > 8) return undefined;
  const schema = resolve(raw, root);
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as Json;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, Json> = {};
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      for (const name of (schema.required ?? []) as string[]) {
        const value = minimal(properties[name] ?? {}, root, depth + 1);
        if (value !== undefined) out[name] = value;
      }
      return out;
    }
    case 'array': {
      const minItems = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const item = minItems > 0 ? minimal((schema.items ?? {}) as Schema, root, depth + 1) : undefined;
      return item === undefined ? [] : Array.from({ length: minItems }, () => item);
    }
    case 'string':
      if (schema.format === 'date-time') return new Date().toISOString();
      return 'x'.repeat(typeof schema.minLength === 'number' ? schema.minLength : 0);
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    default:
      return undefined;
  }
}
