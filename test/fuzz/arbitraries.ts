/**
 * fast-check generators for everything the fuzzer sends: OCPP payloads generated from the official schemas and
 * mutated around them, OCPP-J frames and near-frames, raw JSON oddities, WebSocket protocol violations, and HTTP
 * upgrade requests. Generators need not be exact: the oracle decides what each input deserves.
 */
import fc from 'fast-check';
import { CHARGER_ACTIONS, officialSchemas, type Schema, type Version } from '../helpers/schema-oracle.js';
import { closePayload, encodeFrame, OP } from './wire.js';

// ---------------------------------------------------------------------------------------------------------------
// JSON with raw tokens: numbers JavaScript cannot hold, escapes, nesting no serializer would write.

/** A value whose JSON text is written as given (e.g. `1e400`), standing where a JSON value may stand. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON text of `value`, with every RawJson written out verbatim. */
export function jsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return v;
  });
  if (text === undefined) return 'null';
  return raws.length === 0 ? text : text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]);
}

const nested = (depth: number, open: string, close: string, inner = '0') => open.repeat(depth) + inner + close.repeat(depth);

/** JSON values that break naive parsers and serializers. */
export const nastyJson: fc.Arbitrary<RawJson> = fc.oneof(
  fc
    .constantFrom(
      '1e400',
      '-1e400',
      '1e-400',
      '123456789012345678901234567890',
      '-0',
      '0.1e1',
      '4.9e-324',
      '1.7976931348623157e308',
      '9007199254740993',
      '"\\ud800"',
      '"\\udfff\\ud800"',
      '"\\u0000"',
      '"\\u202e\\ufeff"',
      '"\u00e9\u4e2d\ud83d\ude00"',
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"a":1,"a":2}',
      '[]',
      '{}',
      'null',
      'true',
    )
    .map((t) => new RawJson(t)),
  fc.integer({ min: 1, max: 20 }).map((k) => new RawJson(nested(k * 500, '[', ']'))),
  fc.integer({ min: 1, max: 20 }).map((k) => new RawJson(nested(k * 500, '{"a":', '}'))),
  fc.constantFrom(100_000).map((d) => new RawJson(nested(d, '[', ']'))),
  fc.integer({ min: 0, max: 2000 }).map((n) => new RawJson(JSON.stringify('x'.repeat(n)))),
);

// ---------------------------------------------------------------------------------------------------------------
// Payloads from the schemas.

const DATE_MIN = new Date('1970-01-01T00:00:00Z');
const DATE_MAX = new Date('2100-01-01T00:00:00Z');

function resolve(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let hops = 0; typeof s.$ref === 'string' && hops < 10; hops++) {
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    if (!m) throw new Error(`unexpected $ref ${s.$ref}`);
    s = root.definitions[m[1]];
  }
  return s;
}

/** Values meant to satisfy `schema` (mostly they do; the oracle has the last word). */
function fromSchema(schema: Schema, root: Schema, depth: number): fc.Arbitrary<unknown> {
  const s = resolve(schema, root);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  switch (s.type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = new Set<string>((s.required as string[] | undefined) ?? []);
      const keys = Object.keys(props).filter((k) => depth < 5 || required.has(k));
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const k of keys) shape[k] = fromSchema(props[k], root, depth + 1);
      return fc.record(shape, { requiredKeys: keys.filter((k) => required.has(k)) });
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      const max = Math.max(min, Math.min(typeof s.maxItems === 'number' ? s.maxItems : 3, 3));
      return fc.array(fromSchema((s.items as Schema | undefined) ?? {}, root, depth + 1), { minLength: min, maxLength: max });
    }
    case 'string': {
      if (s.format === 'date-time') return fc.date({ min: DATE_MIN, max: DATE_MAX, noInvalidDate: true }).map((d) => d.toISOString());
      if (s.format === 'uri') return fc.constantFrom('https://example.com/upload', 'ftp://logs.example.com/in');
      const max = Math.min(typeof s.maxLength === 'number' ? s.maxLength : 24, 24);
      return fc.string({ minLength: 1, maxLength: Math.max(1, max) });
    }
    case 'integer':
      return fc.integer({ min: typeof s.minimum === 'number' ? s.minimum : -1000, max: typeof s.maximum === 'number' ? s.maximum : 1_000_000 });
    case 'number':
      if (typeof s.multipleOf === 'number') return fc.integer({ min: 0, max: 100_000 }).map((i) => Math.round(i) / 10);
      return fc.double({ min: typeof s.minimum === 'number' ? s.minimum : -1e6, max: typeof s.maximum === 'number' ? s.maximum : 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const payloadCache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

/** Payloads for an action's request, generated from its official schema. */
export function payloadFor(version: Version, action: string): fc.Arbitrary<Record<string, unknown>> {
  const key = `${version} ${action}`;
  let arb = payloadCache.get(key);
  if (arb === undefined) {
    const schema = officialSchemas()[version].get(action)?.request;
    arb = schema ? (fromSchema(schema, schema, 0) as fc.Arbitrary<Record<string, unknown>>) : fc.constant({});
    payloadCache.set(key, arb);
  }
  return arb;
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations around a valid payload.

type PathStep = string | number;

function nodesOf(value: unknown, path: PathStep[] = [], out: PathStep[][] = []): PathStep[][] {
  out.push(path);
  if (value instanceof RawJson) return out;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) nodesOf(v, [...path, i], out);
  } else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) nodesOf(v, [...path, k], out);
  return out;
}

function getAt(root: unknown, path: PathStep[]): unknown {
  let v: any = root;
  for (const step of path) v = v?.[step];
  return v;
}

export type Mutation =
  | { op: 'drop'; at: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'extra'; at: number; key: string; value: unknown }
  | { op: 'stretch'; at: number; length: number }
  | { op: 'recase'; at: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyJson) }),
  fc.record({ op: fc.constant('extra' as const), at: fc.nat(), key: fc.string({ maxLength: 12 }), value: fc.jsonValue({ maxDepth: 1 }) }),
  fc.record({ op: fc.constant('stretch' as const), at: fc.nat(), length: fc.integer({ min: 0, max: 1200 }) }),
  fc.record({ op: fc.constant('recase' as const), at: fc.nat() }),
);

/** `payload` with `mutations` applied (a fresh copy; RawJson values survive as they are). */
export function mutate(payload: Record<string, unknown>, mutations: readonly Mutation[]): Record<string, unknown> {
  const root = structuredClone(payload);
  for (const m of mutations) {
    const nodes = nodesOf(root);
    const path = nodes[m.at % nodes.length];
    const parent = path.length === 0 ? undefined : (getAt(root, path.slice(0, -1)) as Record<string | number, unknown>);
    const last = path[path.length - 1];
    const target = getAt(root, path);
    switch (m.op) {
      case 'drop':
        if (parent !== undefined) {
          if (Array.isArray(parent)) parent.splice(last as number, 1);
          else delete parent[last];
        }
        break;
      case 'replace':
        if (parent !== undefined) parent[last] = m.value;
        break;
      case 'extra':
        if (target !== null && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value;
        break;
      case 'stretch':
        if (parent !== undefined && typeof target === 'string') parent[last] = target.padEnd(m.length, 'x');
        break;
      case 'recase':
        if (parent !== undefined && typeof target === 'string') parent[last] = target.toUpperCase() === target ? target.toLowerCase() : target.toUpperCase();
        break;
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------------------------
// Frames.

export const messageIdArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 36 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(37), '-1', ' ', '\u0000') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({})) },
);

const CENTRAL_ACTIONS = ['Reset', 'RemoteStartTransaction', 'RequestStartTransaction', 'GetVariables', 'ChangeConfiguration', 'SetChargingProfile'];

export const actionNameArb = (version: Version): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...CHARGER_ACTIONS[version]) },
    { weight: 2, arbitrary: fc.constantFrom(...CENTRAL_ACTIONS, ...CHARGER_ACTIONS[version === 'ocpp1.6' ? 'ocpp2.0.1' : 'ocpp1.6']) },
    { weight: 1, arbitrary: fc.constantFrom('', 'heartbeat', 'HEARTBEAT', 'Heartbeat ', '__proto__', 'constructor', 'toString', 'hasOwnProperty') },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant({})) },
  );

/** A CALL of a charger action with a schema-generated payload, possibly mutated, as a JSON value. */
const callArb = (version: Version): fc.Arbitrary<unknown[]> =>
  fc
    .constantFrom(...CHARGER_ACTIONS[version])
    .chain((action) =>
      fc
        .tuple(fc.string({ minLength: 1, maxLength: 36 }), payloadFor(version, action), fc.array(mutationArb, { maxLength: 3 }))
        .map(([id, payload, mutations]) => [2, id, action, mutate(payload, mutations)]),
    );

/** A well-formed CALL naming an action the charger may not send (unknown, or the central system's) or none at all. */
const wrongActionCallArb = (version: Version): fc.Arbitrary<unknown[]> =>
  fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 36 }),
      actionNameArb(version),
      fc.constantFrom(...CHARGER_ACTIONS[version]).chain((a) => payloadFor(version, a)),
    )
    .map(([id, action, payload]) => [2, id, action, payload]);

/** Arrays shaped almost like OCPP-J messages. */
const nearFrameArb = (version: Version): fc.Arbitrary<unknown[]> =>
  fc
    .tuple(
      fc.oneof(fc.constantFrom(2, 3, 4), fc.constantFrom(0, 1, 5, -1, 2.5, '2', null, new RawJson('2.0'), new RawJson('1e400'))),
      messageIdArb,
      fc.array(fc.oneof(actionNameArb(version), fc.jsonValue({ maxDepth: 2 }), nastyJson), { maxLength: 5 }),
    )
    .map(([type, id, rest]) => [type, id, ...rest]);

/** A near-CALL: the right shape with a wrong part (id, action, payload or arity). */
const nearCallArb = (version: Version): fc.Arbitrary<unknown[]> =>
  fc
    .tuple(messageIdArb, actionNameArb(version), fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyJson, fc.constant({})), fc.nat({ max: 6 }))
    .map(([id, action, payload, arity]) => [2, id, action, payload, new RawJson('0')].slice(0, arity === 4 || arity > 5 ? 4 : arity));

/** Byte-level damage to a frame's text: flip, cut, insert, repeat. */
const damagedText = (text: fc.Arbitrary<string>): fc.Arbitrary<Buffer> =>
  fc
    .tuple(text, fc.array(fc.tuple(fc.constantFrom('flip', 'cut', 'insert', 'repeat'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }))
    .map(([t, edits]) => {
      let b = Buffer.from(t);
      for (const [kind, at, byte] of edits) {
        const i = b.length === 0 ? 0 : at % b.length;
        if (kind === 'flip' && b.length > 0) b[i] = byte;
        else if (kind === 'cut') b = b.subarray(0, i);
        else if (kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
        else b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + 16), b.subarray(i)]);
      }
      return b;
    });

export interface MessageCase {
  kind: 'message';
  /** The whole message, as the charger meant it. */
  message: Buffer;
  binary: boolean;
  /** Sent in this many fragments (with a ping between two of them when more than one). */
  fragments: number;
}

export interface ViolationCase {
  kind: 'violation';
  what: string;
  bytes: Buffer;
  /** The close code RFC 6455 (and the message's own close code, for a valid client close) calls for; 1005 = none. */
  closeCode: number;
}

export type FrameCase = MessageCase | ViolationCase;

const textOf = (arb: fc.Arbitrary<unknown>) => arb.map((v) => Buffer.from(jsonText(v)));

const messageBytes = (version: Version): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 6, arbitrary: textOf(callArb(version)) },
    { weight: 2, arbitrary: textOf(wrongActionCallArb(version)) },
    { weight: 3, arbitrary: textOf(nearCallArb(version)) },
    { weight: 3, arbitrary: textOf(nearFrameArb(version)) },
    { weight: 2, arbitrary: damagedText(callArb(version).map(jsonText)) },
    { weight: 1, arbitrary: textOf(fc.jsonValue({ maxDepth: 3 })) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: textOf(nastyJson) },
  );

const VALID_CLOSE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4000, 4999];
const INVALID_CLOSE = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];

const violationArb: fc.Arbitrary<ViolationCase> = fc.oneof(
  fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf).map((op) => ({
    kind: 'violation' as const,
    what: `reserved opcode ${op}`,
    bytes: encodeFrame(op, Buffer.from('[]')),
    closeCode: 1002,
  })),
  fc
    .integer({ min: 1, max: 7 })
    .map((rsv) => ({ kind: 'violation' as const, what: `RSV bits ${rsv}`, bytes: encodeFrame(OP.text, Buffer.from('[]'), { rsv }), closeCode: 1002 })),
  fc.constant({ kind: 'violation' as const, what: 'unmasked client frame', bytes: encodeFrame(OP.text, Buffer.from('[]'), { mask: false }), closeCode: 1002 }),
  fc
    .integer({ min: 126, max: 300 })
    .map((n) => ({ kind: 'violation' as const, what: `ping of ${n} bytes`, bytes: encodeFrame(OP.ping, Buffer.alloc(n)), closeCode: 1002 })),
  fc.constant({ kind: 'violation' as const, what: 'fragmented ping', bytes: encodeFrame(OP.ping, Buffer.from('x'), { fin: false }), closeCode: 1002 }),
  fc.constant({ kind: 'violation' as const, what: 'continuation without a start', bytes: encodeFrame(OP.continuation, Buffer.from('[]')), closeCode: 1002 }),
  fc.constant({
    kind: 'violation' as const,
    what: 'a new text frame inside a fragmented message',
    bytes: Buffer.concat([encodeFrame(OP.text, Buffer.from('[2,'), { fin: false }), encodeFrame(OP.text, Buffer.from('"a"]'))]),
    closeCode: 1002,
  }),
  fc
    .constantFrom(...VALID_CLOSE)
    .map((code) => ({ kind: 'violation' as const, what: `client close ${code}`, bytes: encodeFrame(OP.close, closePayload(code, 'bye')), closeCode: code })),
  fc
    .constantFrom(...INVALID_CLOSE)
    .map((code) => ({ kind: 'violation' as const, what: `client close with invalid code ${code}`, bytes: encodeFrame(OP.close, closePayload(code)), closeCode: 1002 })),
  fc.constant({ kind: 'violation' as const, what: 'client close without a code', bytes: encodeFrame(OP.close, Buffer.alloc(0)), closeCode: 1005 }),
  fc.constant({ kind: 'violation' as const, what: 'client close of one byte', bytes: encodeFrame(OP.close, Buffer.from([3])), closeCode: 1002 }),
  fc.constant({
    kind: 'violation' as const,
    what: 'client close whose reason is not UTF-8',
    bytes: encodeFrame(OP.close, Buffer.concat([closePayload(1000), Buffer.from([0xc3, 0x28])])),
    closeCode: 1007,
  }),
);

export const frameCaseArb = (version: Version): fc.Arbitrary<FrameCase> =>
  fc.oneof(
    {
      weight: 40,
      arbitrary: fc
        .tuple(messageBytes(version), fc.boolean(), fc.integer({ min: 1, max: 4 }))
        .map(([message, binary, fragments]): FrameCase => ({ kind: 'message', message, binary: binary && fragments === 1, fragments: fragments > 2 ? 1 : fragments })),
    },
    { weight: 3, arbitrary: violationArb },
    {
      weight: 1,
      arbitrary: fc.constantFrom(1024 * 1024 + 1, 1024 * 1024).map(
        (size): FrameCase => ({
          kind: 'message',
          message: Buffer.from(`[2,"big","DataTransfer",{"vendorId":"x","data":"${'y'.repeat(size - 44)}"}]`),
          binary: false,
          fragments: 2,
        }),
      ),
    },
  );

// ---------------------------------------------------------------------------------------------------------------
// HTTP upgrade requests.

export type Ending = 'read' | 'resetAfterSend' | 'endAfterSend' | 'partialThenReset' | 'partialThenWait';

export interface HandshakeCase {
  kind: 'upgrade';
  method: string;
  prefix: string;
  segment: string;
  query: string;
  /** The Sec-WebSocket-Protocol header, absent when undefined. */
  protocols: string | undefined;
  variant: 'standard' | 'noKey' | 'badKey' | 'version8' | 'version12' | 'plain';
  ending: Ending;
  /** For partial endings: how much of the request is sent (fraction in 0..1). */
  cut: number;
  /** Other headers, which change nothing about the answer: odd names, long values. */
  extraHeaders: Array<[string, string]>;
}

export interface GarbageCase {
  kind: 'garbage';
  bytes: Buffer;
  ending: Ending;
}

const PRINTABLE = fc.constantFrom(...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c !== '#' && c !== '?'));

const segmentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: PRINTABLE, minLength: 1, maxLength: 48 }).filter((s) => !s.includes('%') && !s.includes('/') && !s.includes(':')) },
  { weight: 2, arbitrary: fc.string({ unit: PRINTABLE, minLength: 0, maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeURIComponent) },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 8 })
      .map((s) => s.replace(/[\ud800-\udfff]/g, ''))
      .map(encodeURIComponent),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'a%zz',
      '%',
      '%e9',
      '%C3%A9',
      'a%3Ab',
      'a%2Fb',
      'a:b',
      'a/b',
      '%20x',
      'x'.repeat(48),
      'x'.repeat(49),
      '%41'.repeat(48),
      '%41'.repeat(49),
      '%00',
      '%7F',
    ),
  },
);

const protocolTokenArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('ocpp1.6', 'ocpp2.0.1') },
  { weight: 2, arbitrary: fc.constantFrom('OCPP1.6', 'Ocpp2.0.1', 'ocpp1.5', 'ocpp2.0', 'ocpp2.1', 'ocpp1.6j', 'ocpp1.6 ', 'ocpp') },
  { weight: 1, arbitrary: fc.string({ unit: PRINTABLE, minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'a b', '"ocpp1.6"', 'ocpp1.6;q=1', 'ocpp/1.6') },
);

const protocolsArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 6,
    arbitrary: fc
      .array(fc.tuple(protocolTokenArb, fc.oneof({ weight: 6, arbitrary: fc.constantFrom(',', ', ') }, { weight: 1, arbitrary: fc.constantFrom(' , ', ',\t', ',,') })), {
        minLength: 1,
        maxLength: 4,
      })
      .map((parts) => parts.map(([t, sep], i) => (i === 0 ? t : sep + t)).join('')),
  },
);

const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('read' as const) },
  { weight: 1, arbitrary: fc.constantFrom('resetAfterSend' as const, 'endAfterSend' as const, 'partialThenReset' as const, 'partialThenWait' as const) },
);

export const handshakeCaseArb: fc.Arbitrary<HandshakeCase | GarbageCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('upgrade' as const),
      method: fc.oneof({ weight: 9, arbitrary: fc.constant('GET') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'HEAD') }),
      prefix: fc.oneof(
        { weight: 8, arbitrary: fc.constant('/ocpp/') },
        { weight: 1, arbitrary: fc.constantFrom('/ocpp', '/OCPP/', '/', '/ocpp//', '/other/', '/ocpp/x/') },
      ),
      segment: segmentArb,
      query: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('?a=b', '?', '?x=/y') }),
      protocols: protocolsArb,
      variant: fc.oneof(
        { weight: 8, arbitrary: fc.constant('standard' as const) },
        { weight: 1, arbitrary: fc.constantFrom('noKey' as const, 'badKey' as const, 'version8' as const, 'version12' as const, 'plain' as const) },
      ),
      ending: endingArb,
      cut: fc.double({ min: 0, max: 1, noNaN: true }),
      extraHeaders: fc.oneof(
        { weight: 4, arbitrary: fc.constant([] as Array<[string, string]>) },
        {
          weight: 1,
          arbitrary: fc.array(
            fc.tuple(
              fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-_!#$%&*+.^`|~0123456789'.split('')), minLength: 1, maxLength: 20 }).map((n) => `X-${n}`),
              fc.oneof(
                fc.string({ unit: PRINTABLE, maxLength: 100 }),
                fc.integer({ min: 1, max: 8 }).map((n) => 'v'.repeat(n * 256)),
              ),
            ),
            // Kept under Node's 16 KiB limit for a request head: past it there is no request to judge.
            { maxLength: 6 },
          ),
        },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
        fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => Buffer.from(`GET /ocpp/${s} HTTP/1.1\r\n\r\n`)),
        fc.integer({ min: 1, max: 200 }).map((n) => Buffer.from(`GET /ocpp/x HTTP/1.1\r\n${'X-Long: ' + 'a'.repeat(n * 500)}\r\n\r\n`)),
      ),
      ending: endingArb,
    }),
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Floods and slow readers.

export type FloodCase = { kind: 'pingFlood'; count: number; size: number } | { kind: 'callFlood'; count: number } | { kind: 'slowHandshake'; chunks: number };

export const floodCaseArb: fc.Arbitrary<FloodCase> = fc.oneof(
  fc.record({ kind: fc.constant('pingFlood' as const), count: fc.integer({ min: 100, max: 20_000 }), size: fc.integer({ min: 0, max: 125 }) }),
  fc.record({ kind: fc.constant('callFlood' as const), count: fc.integer({ min: 10, max: 1500 }) }),
  fc.record({ kind: fc.constant('slowHandshake' as const), chunks: fc.integer({ min: 2, max: 20 }) }),
);
