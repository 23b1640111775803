import { isUtf8 } from 'node:buffer';
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * The parts of ws's per-connection `Receiver` (lib/receiver.js, ws 8) that tell whether it is between two frames
 * with nothing of its own buffered: only then may a read skip it without changing what it would have decided.
 */
interface ReceiverState extends Writable {
  /** 0 is GET_INFO: waiting for the first byte of a frame. */
  _state: number;
  _bufferedBytes: number;
  /** Non-zero while a fragmented message is open: the next data frame must then be a continuation. */
  _fragmented: number;
  _errored: boolean;
  _maxPayload: number;
}

const GET_INFO = 0;
/** FIN set, no RSV bits (no extension is negotiated), opcode 1: a whole text message in one frame. */
const FINAL_TEXT = 0x81;
const MASKED = 0x80;
const LENGTH_16 = 126;
const LENGTH_64 = 127;
/** The shortest masked frame: two header bytes and the four mask bytes. */
const MIN_MASKED_FRAME = 6;

const streamWrite = Writable.prototype.write;

/** Told when one read's frames start and finish being delivered (the answer turns answer a read's CALLs as it ends). */
export interface ReadScope {
  readOpened(): void;
  readClosed(): void;
}

/** For a caller that needs no brackets: the messages alone. */
const NO_SCOPE: ReadScope = { readOpened() {}, readClosed() {} };

/**
 * Reads the frames a charger almost always sends, a whole text message in one masked frame and whole frames in one
 * read, without ws's receiver, and hands everything else to it unchanged.
 *
 * Why: ws's receiver is a Writable stream that buffers each read, parses headers a state at a time and collects each
 * message into a fragments array, and the fragments array each long-lived receiver keeps between two messages is
 * promoted to the old generation and makes work for full collections. Reading these frames here took the flood of
 * `npm run bench -- --scenario c` from 0.75x to 0.87-0.89x the raw responder's messages per core-second on one
 * machine (bench/analysis.md, seventh round). This reader parses a read in place and passes each message on as
 * a slice of it, as ws does.
 *
 * What stays ws's: any read that arrives while ws holds part of a frame or of a fragmented message, and, from the
 * first frame of a read that is not a final, masked text frame of at most `maxPayload` bytes with a 7- or 16-bit
 * length that is whole in the read, the rest of that read. Control frames, fragments, binary frames, RSV bits,
 * missing masks, oversized and 64-bit lengths, partial frames and invalid UTF-8 are therefore all decided by ws,
 * with its close codes and errors, and in their order: everything this reader passed on came before them on the
 * wire. A text frame with invalid UTF-8 is masked again (XOR twice is the identity) before ws sees it, so ws reads
 * exactly the bytes that arrived.
 *
 * Messages are delivered synchronously, in wire order, within the read's callback, as ws does with
 * `allowSynchronousEvents` (the RPC endpoint's rule for pipelined CALLs relies on that). A `scope` is
 * opened before each read's frames (those read here and those left to ws) and closed after all of them.
 */
export function readTextFramesDirectly(ws: WebSocket, deliver: (ws: WebSocket, data: Buffer, isBinary: false) => void, scope: ReadScope = NO_SCOPE): void {
  const receiver = (ws as unknown as { _receiver?: ReceiverState })._receiver;
  // Should a later ws keep its state under other names, every read stays ws's (its test then fails: nothing is taken).
  if (receiver === undefined || !(receiver instanceof Writable) || typeof receiver._maxPayload !== 'number') return;
  const maxPayload = receiver._maxPayload;
  // ws writes each read to `_receiver.write` (its socket 'data' listener, and its 'close' listener for what was
  // still buffered), so this one property is the whole hook; ws's own listeners and their removal stay as they are.
  // Named parameters, not a rest parameter: this runs for every read, and ws passes only the chunk.
  receiver.write = function writeRead(this: ReceiverState, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    scope.readOpened();
    try {
      let consumed = 0;
      if (Buffer.isBuffer(chunk) && receiverIsIdle(this)) {
        consumed = deliverWholeTextFrames(chunk, maxPayload, ws, deliver);
        if (consumed === chunk.length) return true;
      }
      const remainder = consumed === 0 ? chunk : (chunk as Buffer).subarray(consumed);
      return (streamWrite as (this: Writable, chunk: unknown, encoding?: unknown, callback?: unknown) => boolean).call(this, remainder, encoding, callback);
    } finally {
      scope.readClosed();
    }
  } as Writable['write'];
}

/** After the peer's close frame ws ends its receiver, so `writableEnded` also covers a read that follows one. */
function receiverIsIdle(receiver: ReceiverState): boolean {
  return (
    receiver._state === GET_INFO &&
    receiver._bufferedBytes === 0 &&
    receiver._fragmented === 0 &&
    !receiver._errored &&
    receiver.writableLength === 0 &&
    !receiver.writableEnded &&
    !receiver.destroyed
  );
}

/**
 * Delivers the whole, final, masked text frames at the start of `chunk`, unmasked in place; returns how many bytes
 * they took. Stops at the first frame it does not take, untouched.
 */
function deliverWholeTextFrames(chunk: Buffer, maxPayload: number, ws: WebSocket, deliver: (ws: WebSocket, data: Buffer, isBinary: false) => void): number {
  let position = 0;
  const total = chunk.length;
  while (total - position >= MIN_MASKED_FRAME) {
    if (chunk[position] !== FINAL_TEXT) break;
    const second = chunk[position + 1]!;
    if ((second & MASKED) === 0) break;
    let length = second & 0x7f;
    let maskAt = position + 2;
    if (length === LENGTH_64) break;
    if (length === LENGTH_16) {
      if (total - position < MIN_MASKED_FRAME + 2) break;
      length = (chunk[position + 2]! << 8) | chunk[position + 3]!;
      maskAt = position + 4;
    }
    if (maxPayload > 0 && length > maxPayload) break;
    const start = maskAt + 4;
    const end = start + length;
    if (end > total) break;
    toggleMask(chunk, maskAt, start, end);
    const data = chunk.subarray(start, end);
    if (!isUtf8(data)) {
      toggleMask(chunk, maskAt, start, end);
      break;
    }
    position = end;
    deliver(ws, data, false);
  }
  return position;
}

/**
 * Below this many bytes a frame is unmasked a byte at a time: a typed-array view over the read costs more to make
 * than the word loop saves (timed alone, the two are even at about 100 bytes by interpolation; bench/analysis.md,
 * eighteenth round).
 */
const WORDWISE_FROM_BYTES = 128;

/** Scratch for the rotated mask as four bytes and as one word in the platform's byte order, so no branch on it. */
const maskBytes = new Uint8Array(4);
const maskWord = new Int32Array(maskBytes.buffer);

/**
 * XORs `chunk[start, end)` with the four mask bytes at `maskAt`: unmasks, and masks again when applied twice.
 *
 * Why a word at a time: XOR a byte at a time was the largest single cost of a flood's CALL in the counted profile,
 * 14 instructions per byte, about 8,800 per CALL of the flood's mix (bench/analysis.md, seventeenth and eighteenth
 * rounds). A 32-bit view needs a 4-byte aligned offset into the read's memory, so the bytes before the first aligned
 * one and after the last whole word are done singly; the word's mask is the four bytes rotated to start at the
 * first aligned byte's place in the mask.
 */
export function toggleMask(chunk: Buffer, maskAt: number, start: number, end: number): void {
  if (end - start >= WORDWISE_FROM_BYTES) {
    const firstAligned = start + ((4 - ((chunk.byteOffset + start) & 3)) & 3);
    const words = (end - firstAligned) >> 2;
    const afterWords = firstAligned + (words << 2);
    toggleFewBytes(chunk, maskAt, start, start, firstAligned);
    for (let k = 0; k < 4; k++) maskBytes[k] = chunk[maskAt + ((firstAligned - start + k) & 3)] ?? 0;
    const word = maskWord[0] ?? 0;
    const view = new Int32Array(chunk.buffer, chunk.byteOffset + firstAligned, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    toggleFewBytes(chunk, maskAt, start, afterWords, end);
    return;
  }
  const m0 = chunk[maskAt]!;
  const m1 = chunk[maskAt + 1]!;
  const m2 = chunk[maskAt + 2]!;
  const m3 = chunk[maskAt + 3]!;
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    chunk[i] ^= m0;
    chunk[i + 1] ^= m1;
    chunk[i + 2] ^= m2;
    chunk[i + 3] ^= m3;
  }
  // At most three bytes are left, and they start at a multiple of four from `start`.
  if (i < end) chunk[i++] ^= m0;
  if (i < end) chunk[i++] ^= m1;
  if (i < end) chunk[i] ^= m2;
}

/** XORs the (at most three) bytes `chunk[from, to)` of a payload that starts at `start` with their mask bytes. */
function toggleFewBytes(chunk: Buffer, maskAt: number, start: number, from: number, to: number): void {
  for (let i = from; i < to; i++) chunk[i] ^= chunk[maskAt + ((i - start) & 3)] ?? 0;
}
