/**
 * The fuzzer's own OCPP-J oracle: for one WebSocket message from a charger, what the gateway must answer.
 * Written from OCPP-J (1.6 §4, 2.0.1 §4), RFC 6455 and the gateway's documented rules (README "What a charger
 * sees"), never by calling gateway code:
 * - a text frame that is not UTF-8 fails the connection with 1007 (RFC 6455 §8.1); a message larger than
 *   `server.maxFrameBytes` closes it with 1009;
 * - a frame that is not a JSON array, or whose message id cannot be read: no answer in 1.6 (nothing to address
 *   it to), `[4,"-1","RpcFrameworkError",...]` in 2.0.1;
 * - a CALL whose id is readable: an id of 0 or more than 36 characters, a wrong arity or a non-string action is a
 *   framing error (ProtocolError / RpcFrameworkError); a payload that is not an object a formation/format
 *   violation; an action the version does not define NotImplemented; one the central system sends NotSupported;
 *   a message nested deeper than 64 levels of arrays and objects (its own array included) a formation/format
 *   violation; a payload the schema refuses the code the test's own schema oracle predicts; anything else a
 *   CALLRESULT valid against the action's response schema;
 * - CALLRESULTs and CALLERRORs are never answered (nothing was asked);
 * - another message type: MessageTypeNotSupported in 2.0.1 (ProtocolError in 1.6) when the id is a valid id,
 *   otherwise as an unreadable message;
 * - a binary frame is not OCPP-J: one that reads as a CALL with a string id, or as a message of an unknown type
 *   with a valid id, gets a framing error; nothing else is answered.
 */
import { isUtf8 } from 'node:buffer';
import { CHARGER_ACTIONS, SCHEMA_ERROR_CODE, schemaOracle, type Version } from '../helpers/schema-oracle.js';

export const MAX_FRAME_BYTES = 1024 * 1024;
const MAX_ID = 36;

export type Expectation =
  | { kind: 'none' }
  | { kind: 'error'; id: string; code: string }
  | { kind: 'result'; id: string; action: string }
  | { kind: 'close'; code: number };

const FRAMING: Record<Version, string> = { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'RpcFrameworkError' };
const MESSAGE_TYPE: Record<Version, string> = { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'MessageTypeNotSupported' };

const chargerActions: Record<Version, ReadonlySet<string>> = {
  'ocpp1.6': new Set(CHARGER_ACTIONS['ocpp1.6']),
  'ocpp2.0.1': new Set(CHARGER_ACTIONS['ocpp2.0.1']),
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const MAX_NESTING = 64;

/** Depth of nested arrays and objects, walked with an explicit stack (the fuzzer sends 100,000 levels). */
function nesting(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > deepest) deepest = depth;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function unreadable(version: Version): Expectation {
  return version === 'ocpp2.0.1' ? { kind: 'error', id: '-1', code: FRAMING[version] } : { kind: 'none' };
}

/** What the gateway must answer to one complete message (after reassembly of its fragments). */
export function expectedAnswer(version: Version, message: Buffer, binary: boolean): Expectation {
  if (message.length > MAX_FRAME_BYTES) return { kind: 'close', code: 1009 };
  if (!binary && !isUtf8(message)) return { kind: 'close', code: 1007 };
  let parsed: unknown;
  let isJson = true;
  try {
    parsed = JSON.parse(message.toString('utf8'));
  } catch {
    isJson = false;
  }
  if (binary) {
    // Answered only where a CALL (or a message of an unknown type) names an id to answer to.
    if (isJson && Array.isArray(parsed) && typeof parsed[1] === 'string') {
      const [type, id] = parsed as [unknown, string];
      const idValid = id.length >= 1 && id.length <= MAX_ID;
      if (type === 2 || (type !== 3 && type !== 4 && idValid)) return { kind: 'error', id, code: FRAMING[version] };
    }
    return { kind: 'none' };
  }
  if (!isJson || !Array.isArray(parsed) || parsed.length === 0) return unreadable(version);
  const [type, id] = parsed;
  const idValid = typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID;
  if (type === 3 || type === 4) return { kind: 'none' };
  if (type !== 2) return idValid ? { kind: 'error', id: id as string, code: MESSAGE_TYPE[version] } : unreadable(version);
  if (typeof id !== 'string') return unreadable(version);
  const error = (code: string): Expectation => ({ kind: 'error', id, code });
  if (!idValid || parsed.length !== 4) return error(FRAMING[version]);
  const [, , action, payload] = parsed;
  if (typeof action !== 'string') return error(FRAMING[version]);
  if (!isObject(payload)) return error(SCHEMA_ERROR_CODE[version].format);
  if (nesting(parsed) > MAX_NESTING) return error(SCHEMA_ERROR_CODE[version].format);
  const oracle = schemaOracle(version);
  if (!oracle.has(action)) return error('NotImplemented');
  if (!chargerActions[version].has(action)) return error('NotSupported');
  const verdict = oracle.request(action, payload);
  if (!verdict.valid) return error(verdict.code!);
  return { kind: 'result', id, action };
}

/** Why `frame` (parsed JSON) is not the answer `expected` calls for; null when it is. */
export function answerMismatch(version: Version, expected: Expectation, frame: unknown): string | null {
  const show = () => JSON.stringify(frame).slice(0, 300);
  if (!Array.isArray(frame)) return `answer is not a JSON array: ${show()}`;
  if (expected.kind === 'error') {
    if (frame.length !== 5 || frame[0] !== 4) return `expected CALLERROR ${expected.code} for ${JSON.stringify(expected.id)}, got ${show()}`;
    if (frame[1] !== expected.id) return `CALLERROR for the wrong id (want ${JSON.stringify(expected.id)}): ${show()}`;
    if (frame[2] !== expected.code) return `expected CALLERROR code ${expected.code}, got ${show()}`;
    if (typeof frame[3] !== 'string' || frame[3].length > 255) return `errorDescription must be a string of at most 255 characters: ${show()}`;
    if (!isObject(frame[4])) return `errorDetails must be an object: ${show()}`;
    return null;
  }
  if (expected.kind === 'result') {
    if (frame.length !== 3 || frame[0] !== 3 || frame[1] !== expected.id) return `expected CALLRESULT for ${JSON.stringify(expected.id)}, got ${show()}`;
    const verdict = schemaOracle(version).response(expected.action, frame[2]);
    if (!verdict.valid) return `${expected.action} CALLRESULT breaks its response schema (${JSON.stringify(verdict.firstError)}): ${show()}`;
    return null;
  }
  return `expected ${expected.kind === 'none' ? 'no answer' : `close ${expected.code}`}, got ${show()}`;
}

/**
 * How the gateway must count one message in its metrics (README: bad input is answered and counted):
 * `binary` and `malformed` in `ocpp_malformed_frames_total`, a well-formed CALLRESULT or CALLERROR (the fuzzer
 * never answers anything the gateway asked, so every one is unmatched) in `ocpp_unmatched_responses_total`;
 * `closed` messages never reach OCPP (the connection fails first). A CALLERROR of 4 elements (no errorDetails)
 * is well-formed: OCPP-J firmware in the field omits it, and the gateway accepts it when receiving. A broken
 * CALLRESULT or CALLERROR whose id can be read (`brokenResponse`) is counted in both: it is malformed, and it
 * still ends (here: matches no) CALL of the gateway's. A message nested deeper than 64 levels is malformed too.
 */
export type FrameCategory = 'closed' | 'binary' | 'malformed' | 'brokenResponse' | 'call' | 'response';

export function frameCategory(message: Buffer, binary: boolean): FrameCategory {
  if (message.length > MAX_FRAME_BYTES || (!binary && !isUtf8(message))) return 'closed';
  if (binary) return 'binary';
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return 'malformed';
  const [type, id] = parsed;
  if (typeof id !== 'string' || id.length < 1 || id.length > MAX_ID) return 'malformed';
  const shallow = nesting(parsed) <= MAX_NESTING;
  if (type === 2) return parsed.length === 4 && typeof parsed[2] === 'string' && isObject(parsed[3]) && shallow ? 'call' : 'malformed';
  if (type === 3) return parsed.length === 3 && isObject(parsed[2]) && shallow ? 'response' : 'brokenResponse';
  if (type === 4) return (parsed.length === 4 || parsed.length === 5) && typeof parsed[2] === 'string' && shallow ? 'response' : 'brokenResponse';
  return 'malformed';
}
