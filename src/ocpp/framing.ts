import type { OcppErrorReason } from './errors.js';

/** OCPP-J message type ids (1.6 and 2.0.1 define these three). */
export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;

/** OCPP-J limits a message id to 36 characters. */
export const MAX_MESSAGE_ID_LENGTH = 36;

/**
 * Deepest nesting of arrays and objects a message may have, its own array included. OCPP payloads nest a handful
 * of levels; free-form fields (DataTransfer `data`, 2.0.1 custom data) could nest without end, and everything
 * that walks a payload afterwards (the schema validator, event building, JSON encoding for the bus and the event
 * stream) would then recurse until the stack ran out. A deeper message is refused before any of that runs.
 */
export const MAX_NESTING_DEPTH = 64;

export type JsonObject = Record<string, unknown>;

export interface CallFrame {
  kind: 'call';
  messageId: string;
  action: string;
  payload: JsonObject;
}
export interface CallResultFrame {
  kind: 'result';
  messageId: string;
  payload: JsonObject;
}
export interface CallErrorFrame {
  kind: 'error';
  messageId: string;
  errorCode: string;
  errorDescription: string;
  errorDetails: JsonObject;
  /** errorDetails was present but not an object (OCPP-J wants one); it is then `{ text: <what was sent> }`. */
  detailsNotObject?: true;
}
/**
 * A frame that is not usable OCPP-J. `answer` is set when the frame is (or may be) a CALL whose id could be
 * read, so the sender can be told what is wrong; `problem` is a short stable name for logs and metrics.
 */
export interface InvalidFrame {
  kind: 'invalid';
  problem: string;
  message: string;
  answer?: { messageId: string; reason: OcppErrorReason };
  /** For CALLRESULT/CALLERROR frames whose id could be read: the pending CALL they were meant for. */
  responseTo?: string;
  /** The frame reads as a CALLRESULT or CALLERROR: it is never answered, whatever is wrong with it. */
  isResponse?: boolean;
}
export type InboundFrame = CallFrame | CallResultFrame | CallErrorFrame | InvalidFrame;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(problem: string, message: string, extra: Partial<InvalidFrame> = {}): InvalidFrame {
  return { kind: 'invalid', problem, message, ...extra };
}

/**
 * Whether `text` (JSON) nests arrays and objects deeper than `limit`. A scan of the text rather than a walk of the
 * parsed value: it needs no stack, and one pass over a few hundred bytes costs less than the parse itself.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // A message shorter than the limit cannot open that many levels.
  if (text.length <= limit) return false;
  // Nor can one with no more opening brackets than the limit (those inside strings counted too): the common case,
  // answered by the engine's native search at a tenth of the cost of the character loop below.
  if (openingBracketsAtMost(text, limit)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

function openingBracketsAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > limit) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > limit) return false;
  return true;
}

const TOO_DEEP = `nested deeper than ${MAX_NESTING_DEPTH} levels of arrays and objects`;

/** Parses and checks one text frame against OCPP-J's framing rules; never throws. */
export function parseFrame(text: string): InboundFrame {
  const tooDeep = nestsDeeperThan(text, MAX_NESTING_DEPTH);
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return invalid('not_json', 'frame is not valid JSON');
  }
  if (!Array.isArray(message) || message.length === 0) {
    return invalid('not_array', 'frame must be a JSON array [messageTypeId, messageId, ...]');
  }
  const [typeId, messageId] = message;
  const idReadable = typeof messageId === 'string';
  const idValid = idReadable && messageId.length > 0 && messageId.length <= MAX_MESSAGE_ID_LENGTH;

  if (typeId === CALL) {
    if (!idReadable) return invalid('bad_message_id', 'messageId must be a string');
    const answer = (reason: OcppErrorReason) => ({ messageId, reason });
    if (!idValid) {
      return invalid('bad_message_id', `messageId must be 1 to ${MAX_MESSAGE_ID_LENGTH} characters`, { answer: answer('framing') });
    }
    if (message.length !== 4) {
      return invalid('bad_arity', `a CALL has 4 elements [2, messageId, action, payload], got ${message.length}`, {
        answer: answer('framing'),
      });
    }
    const [, , action, payload] = message;
    if (typeof action !== 'string') return invalid('bad_action', 'action must be a string', { answer: answer('framing') });
    if (!isObject(payload)) return invalid('bad_payload', 'payload must be a JSON object', { answer: answer('format') });
    if (tooDeep) return invalid('too_deep', `payload is ${TOO_DEEP}`, { answer: answer('format') });
    return { kind: 'call', messageId, action, payload };
  }

  if (typeId === CALLRESULT) {
    if (!idValid) return invalid('bad_message_id', 'CALLRESULT messageId must be a string of 1 to 36 characters', { isResponse: true });
    if (message.length !== 3) {
      return invalid('bad_arity', `a CALLRESULT has 3 elements, got ${message.length}`, { responseTo: messageId });
    }
    if (!isObject(message[2])) return invalid('bad_payload', 'CALLRESULT payload must be a JSON object', { responseTo: messageId });
    if (tooDeep) return invalid('too_deep', `CALLRESULT payload is ${TOO_DEEP}`, { responseTo: messageId });
    return { kind: 'result', messageId, payload: message[2] };
  }

  if (typeId === CALLERROR) {
    if (!idValid) return invalid('bad_message_id', 'CALLERROR messageId must be a string of 1 to 36 characters', { isResponse: true });
    // Some firmware omits errorDetails or sends a string there: accept both when receiving.
    if (message.length !== 5 && message.length !== 4) {
      return invalid('bad_arity', `a CALLERROR has 5 elements, got ${message.length}`, { responseTo: messageId });
    }
    const [, , errorCode, errorDescription, errorDetails] = message;
    if (typeof errorCode !== 'string') {
      return invalid('bad_error_code', 'CALLERROR errorCode must be a string', { responseTo: messageId });
    }
    if (tooDeep) return invalid('too_deep', `CALLERROR is ${TOO_DEEP}`, { responseTo: messageId });
    return {
      kind: 'error',
      messageId,
      errorCode,
      // Firmware that sends something else here meant no description; its text form could be anything.
      errorDescription: typeof errorDescription === 'string' ? errorDescription : '',
      errorDetails: isObject(errorDetails) ? errorDetails : errorDetails === undefined ? {} : { text: errorDetails },
      ...(isObject(errorDetails) || errorDetails === undefined ? {} : { detailsNotObject: true as const }),
    };
  }

  // Not 2/3/4: 2.0.1 answers MessageTypeNotSupported when it can name the message.
  const problem = typeof typeId === 'number' ? 'unknown_message_type' : 'bad_message_type';
  const description = typeof typeId === 'number' ? `message type ${typeId} is not supported` : 'messageTypeId must be a number';
  return invalid(problem, description, idValid ? { answer: { messageId, reason: 'messageType' } } : {});
}

export function serializeCall(messageId: string, action: string, payload: unknown): string {
  return JSON.stringify([CALL, messageId, action, payload]);
}

/**
 * The JSON of the last few answer payloads that cannot change (frozen, all the way down): the gateway's own
 * answers are mostly such constants (`{}` to every MeterValues and StatusNotification, one Heartbeat answer per
 * millisecond), and serialising one again for every CALL of a flood cost more than finding it here. A few slots,
 * replaced in turn, hold strong references to at most that many payloads; a WeakMap would hold every Heartbeat
 * answer until a collection and add its work to each one.
 */
const CONSTANT_SLOTS = 8;
const constantPayloads: Array<object | undefined> = new Array(CONSTANT_SLOTS).fill(undefined);
const constantJson: string[] = new Array(CONSTANT_SLOTS).fill('');
let nextConstantSlot = 0;

function constantPayloadJson(payload: object): string | undefined {
  for (let i = 0; i < CONSTANT_SLOTS; i++) if (constantPayloads[i] === payload) return constantJson[i];
  if (!isDeeplyFrozen(payload)) return undefined;
  const json = JSON.stringify(payload);
  constantPayloads[nextConstantSlot] = payload;
  constantJson[nextConstantSlot] = json;
  nextConstantSlot = (nextConstantSlot + 1) % CONSTANT_SLOTS;
  return json;
}

export function serializeCallResult(messageId: string, payload: unknown): string {
  if (typeof payload === 'object' && payload !== null && Object.isFrozen(payload)) {
    const json = constantPayloadJson(payload);
    // The same text JSON.stringify gives for the whole array: no whitespace, the id escaped as a JSON string.
    if (json !== undefined) return `[${CALLRESULT},${JSON.stringify(messageId)},${json}]`;
  }
  return JSON.stringify([CALLRESULT, messageId, payload]);
}

/** Frozen, and every object or array under it too: nothing in it can change after its JSON is kept. */
function isDeeplyFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  for (const child of Object.values(value)) if (typeof child === 'object' && child !== null && !isDeeplyFrozen(child)) return false;
  return true;
}

/** OCPP-J caps errorDescription at 255 characters; details are always an object when we send them. */
export function serializeCallError(messageId: string, errorCode: string, description: string, details: JsonObject = {}): string {
  return JSON.stringify([CALLERROR, messageId, errorCode, description.length > 255 ? description.slice(0, 252) + '...' : description, details]);
}
