import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { test } from 'node:test';
import * as ws from 'ws';
import { readTextFramesDirectly, toggleMask } from '../../src/transport/text-frame-reader.js';
import { encodeFrame } from '../fuzz/wire.js';

/**
 * The oracle is ws's own receiver left alone: the same bytes, cut into the same reads, must give the same messages,
 * pings, pongs, close and error, in the same order, whether or not the reader takes the frames it can.
 */

/** ws exports its receiver, but its type declarations do not. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number; allowSynchronousEvents: boolean }) => Writable;
};

const MAX_PAYLOAD = 300;
const seed = Number(process.env.FRAME_READER_SEED ?? Date.now() % 1_000_000);

/** A small seeded generator (mulberry32), so a failure can be replayed with FRAME_READER_SEED. */
function generator(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FrameSpec {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  /** Force the 64-bit length form. */
  long?: boolean;
}

/** The fuzzer's frame encoder, with mask bytes from the seeded generator so that a failing stream replays exactly. */
function encode({ opcode, payload, fin = true, rsv = 0, masked = true, long = false }: FrameSpec, random: () => number): Buffer {
  const maskKey = masked ? Buffer.from([0, 1, 2, 3].map(() => Math.floor(random() * 256))) : undefined;
  return encodeFrame(opcode, payload, { fin, rsv, mask: masked, maskKey, longLength: long });
}

function text(random: () => number, length: number): Buffer {
  const pieces = ['a', 'Z', '{', '"', '1', 'é', '€', '😀', ' '];
  let out = '';
  while (Buffer.byteLength(out) < length) out += pieces[Math.floor(random() * pieces.length)];
  return Buffer.from(out);
}

/** One frame of many kinds, mostly the whole text frames the reader takes, some of everything it must leave to ws. */
function randomFrames(random: () => number): FrameSpec[] {
  const pick = random();
  const length = random() < 0.1 ? 126 + Math.floor(random() * 250) : Math.floor(random() * 126);
  if (pick < 0.55) return [{ opcode: 1, payload: text(random, length) }];
  if (pick < 0.6) return [{ opcode: 1, payload: Buffer.concat([text(random, length), Buffer.from([0xc3])]) }];
  if (pick < 0.65) return [{ opcode: 2, payload: text(random, length) }];
  if (pick < 0.7) return [{ opcode: 9, payload: text(random, Math.min(length, 100)) }];
  if (pick < 0.73) return [{ opcode: 10, payload: Buffer.alloc(0) }];
  if (pick < 0.8) {
    const whole = text(random, length + 2);
    const cut = 1 + Math.floor(random() * (whole.length - 1));
    return [
      { opcode: 1, payload: whole.subarray(0, cut), fin: false },
      ...(random() < 0.5 ? [{ opcode: 9, payload: Buffer.from('in between') }] : []),
      { opcode: 0, payload: whole.subarray(cut) },
    ];
  }
  // A message opened and never continued: ws must refuse the next whole text frame.
  if (pick < 0.815) return [{ opcode: 1, payload: text(random, length), fin: false }];
  if (pick < 0.83) return [{ opcode: 1, payload: text(random, length), masked: false }];
  if (pick < 0.86) return [{ opcode: 1, payload: text(random, length), rsv: 1 + Math.floor(random() * 7) }];
  if (pick < 0.89) return [{ opcode: 1, payload: text(random, length), long: true }];
  if (pick < 0.92) return [{ opcode: 1, payload: text(random, MAX_PAYLOAD + 1 + Math.floor(random() * 100)) }];
  if (pick < 0.94) return [{ opcode: 3, payload: Buffer.alloc(0) }];
  if (pick < 0.96) return [{ opcode: 0, payload: text(random, length) }];
  const close = Buffer.alloc(2);
  close.writeUInt16BE(1000);
  return [{ opcode: 8, payload: close }];
}

/** Cuts a byte stream into reads at random places: sometimes one read, sometimes many small ones. */
function cut(stream: Buffer, random: () => number): Buffer[] {
  if (random() < 0.3) return [stream];
  const reads: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    const size = 1 + Math.floor(random() * (random() < 0.5 ? 8 : 400));
    reads.push(stream.subarray(at, at + size));
    at += size;
  }
  return reads;
}

/** Feeds the reads to a receiver as ws's socket listener does, and says what came out, in order. */
async function run(reads: Buffer[], withReader: boolean, withScope = false): Promise<{ seen: string[]; direct: number; written: number }> {
  const receiver = new Receiver({ isServer: true, maxPayload: MAX_PAYLOAD, allowSynchronousEvents: true });
  const seen: string[] = [];
  let direct = 0;
  let written = 0;
  let concluded = false;
  receiver.on('message', (data: Buffer, isBinary: boolean) => seen.push(`message ${isBinary} ${data.toString('hex')}`));
  receiver.on('ping', (data: Buffer) => seen.push(`ping ${data.toString('hex')}`));
  receiver.on('pong', (data: Buffer) => seen.push(`pong ${data.toString('hex')}`));
  receiver.on('conclude', (code: number) => {
    concluded = true;
    seen.push(`conclude ${code}`);
  });
  receiver.on('error', (err: Error & { code?: string }) => {
    // ws keeps the close code under a symbol of its own.
    const symbol = Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
    const status = symbol === undefined ? undefined : (err as unknown as Record<symbol, number>)[symbol];
    seen.push(`error ${err.code} ${status} ${err.message}`);
  });
  if (withReader) {
    const scope = withScope ? { readOpened: () => seen.push('(read'), readClosed: () => seen.push('read)') } : undefined;
    readTextFramesDirectly(
      { _receiver: receiver } as unknown as ws.WebSocket,
      (_ws, data) => {
        direct++;
        seen.push(`message false ${data.toString('hex')}`);
      },
      scope,
    );
  }
  for (const read of reads) {
    // ws stops handing reads over once the peer's close frame was read.
    if (concluded) break;
    receiver.write(Buffer.from(read));
    written++;
  }
  // A stream emits its error on a later tick, always before the next turn's check phase.
  await new Promise((resolve) => setImmediate(resolve));
  return { seen, direct, written };
}

test(`the same reads give the same messages, control frames and errors as ws's receiver alone (seed ${seed})`, async () => {
  const random = generator(seed);
  let direct = 0;
  let viaWs = 0;
  for (let round = 0; round < 4000; round++) {
    const specs: FrameSpec[] = [];
    const count = 1 + Math.floor(random() * 8);
    for (let i = 0; i < count; i++) specs.push(...randomFrames(random));
    const stream = Buffer.concat(specs.map((spec) => encode(spec, random)));
    const reads = cut(stream, random);
    const alone = await run(reads, false);
    const read = await run(reads, true);
    assert.deepEqual(read.seen, alone.seen, `round ${round} of seed ${seed}: ${stream.toString('hex')} in ${reads.length} reads`);
    direct += read.direct;
    viaWs += read.seen.filter((entry) => entry.startsWith('message')).length - read.direct;
  }
  // The comparison means something only if both paths ran many times.
  assert.ok(direct > 1500, `messages read directly: ${direct}`);
  assert.ok(viaWs > 500, `messages left to ws: ${viaWs}`);
});

test(`with a read scope, every read is bracketed and every message of it, read here or by ws, falls inside (seed ${seed})`, async () => {
  const random = generator(seed + 2);
  for (let round = 0; round < 1000; round++) {
    const specs: FrameSpec[] = [];
    const count = 1 + Math.floor(random() * 8);
    for (let i = 0; i < count; i++) specs.push(...randomFrames(random));
    const reads = cut(Buffer.concat(specs.map((spec) => encode(spec, random))), random);
    const alone = await run(reads, false);
    const scoped = await run(reads, true, true);
    const where = `round ${round} of seed ${seed}`;
    assert.deepEqual(
      scoped.seen.filter((entry) => entry !== '(read' && entry !== 'read)'),
      alone.seen,
      where,
    );
    let open = false;
    let scopes = 0;
    for (const entry of scoped.seen) {
      if (entry === '(read') {
        assert.equal(open, false, `${where}: a read opened inside another`);
        open = true;
        scopes++;
      } else if (entry === 'read)') {
        assert.equal(open, true, `${where}: a read closed that was not open`);
        open = false;
      } else if (!entry.startsWith('error')) {
        // Messages, pings, pongs and the close are passed on synchronously within the read; errors come a tick later.
        assert.equal(open, true, `${where}: ${entry} outside a read`);
      }
    }
    assert.equal(open, false, `${where}: the last read was left open`);
    assert.equal(scopes, scoped.written, `${where}: one scope per read handed over`);
  }
});

test(`short frames split inside their headers, so the next read starts inside a frame (seed ${seed})`, async () => {
  const random = generator(seed + 1);
  let direct = 0;
  for (let round = 0; round < 3000; round++) {
    const frames = Array.from({ length: 6 }, () => encode({ opcode: 1, payload: text(random, Math.floor(random() * 7)) }, random));
    const reads: Buffer[] = [];
    // Sometimes a message is opened in a read of its own and never continued: ws must refuse the next text frame.
    if (random() < 0.2) reads.push(encode({ opcode: 1, payload: text(random, 3), fin: false }, random));
    let pending: Buffer[] = [];
    for (const frame of frames) {
      if (random() < 0.5) {
        // This read ends inside the frame: after its first byte, its length byte or its mask.
        const choice = Math.floor(random() * 3);
        const at = choice === 0 ? 1 : choice === 1 ? 2 : 6;
        reads.push(Buffer.concat([...pending, frame.subarray(0, at)]));
        pending = [frame.subarray(at)];
      } else {
        pending.push(frame);
      }
    }
    reads.push(Buffer.concat(pending));
    const alone = await run(reads, false);
    const read = await run(reads, true);
    assert.deepEqual(read.seen, alone.seen, `round ${round} of seed ${seed}: ${reads.map((r) => r.toString('hex')).join(' | ')}`);
    direct += read.direct;
  }
  assert.ok(direct > 1000, `messages read directly: ${direct}`);
});

test('whole text frames in one read are all taken without ws, and a ping among them leaves the rest to ws in order', async () => {
  const random = generator(1);
  const texts = ['[2,"1","Heartbeat",{}]', '[2,"2","Heartbeat",{}]', `[2,"3","DataTransfer",{"data":"${'€'.repeat(60)}"}]`];
  const frames = texts.map((t) => encode({ opcode: 1, payload: Buffer.from(t) }, random));
  const all = await run([Buffer.concat(frames)], true);
  assert.equal(all.direct, 3);
  assert.deepEqual(
    all.seen,
    texts.map((t) => `message false ${Buffer.from(t).toString('hex')}`),
  );

  const ping = encode({ opcode: 9, payload: Buffer.from('p') }, random);
  const [first, ...rest] = frames;
  const mixed = await run([Buffer.concat([first ?? Buffer.alloc(0), ping, ...rest])], true);
  assert.equal(mixed.direct, 1);
  const messages = texts.map((t) => `message false ${Buffer.from(t).toString('hex')}`);
  assert.deepEqual(mixed.seen, [messages[0], `ping ${Buffer.from('p').toString('hex')}`, ...messages.slice(1)]);
});

test('a text frame that is not UTF-8 reaches ws as it arrived and fails with 1007, after the frames before it', async () => {
  const random = generator(2);
  const good = encode({ opcode: 1, payload: Buffer.from('[2,"1","Heartbeat",{}]') }, random);
  const bad = encode({ opcode: 1, payload: Buffer.from([0x5b, 0xff, 0x5d]) }, random);
  const result = await run([Buffer.concat([good, bad])], true);
  assert.equal(result.direct, 1);
  assert.equal(result.seen.length, 2);
  assert.match(result.seen[1] ?? '', /^error WS_ERR_INVALID_UTF8 1007 Invalid WebSocket frame: invalid UTF-8 sequence$/);
});

test('a frame split over two reads is left to ws, and whole frames after it are taken directly again', async () => {
  const random = generator(3);
  const first = encode({ opcode: 1, payload: Buffer.from('[2,"1","Heartbeat",{}]') }, random);
  const second = encode({ opcode: 1, payload: Buffer.from('[2,"2","Heartbeat",{}]') }, random);
  const result = await run([first.subarray(0, 5), first.subarray(5), second], true);
  assert.equal(result.seen.length, 2);
  assert.equal(result.direct, 1);
});

test('unmasking gives each byte XOR its mask byte, at every alignment in memory and every length, and twice is none', () => {
  const random = generator(seed + 1);
  const lengths = [...Array.from({ length: 300 }, (_, i) => i), 511, 1000, 1023, 4099];
  let checked = 0;
  for (const length of lengths) {
    // Where the chunk starts in its memory, and where the payload starts in the chunk: every 4-byte phase of both.
    for (let offset = 0; offset < 8; offset++) {
      for (let start = 4; start < 12; start++) {
        const memory = Buffer.alloc(offset + start + length + 8);
        for (let i = 0; i < memory.length; i++) memory[i] = Math.floor(random() * 256);
        const chunk = memory.subarray(offset, offset + start + length + 3);
        const maskAt = start - 4;
        const before = Buffer.from(chunk);
        const memoryBefore = Buffer.from(memory);
        toggleMask(chunk, maskAt, start, start + length);
        for (let i = 0; i < chunk.length; i++) {
          const expected = i >= start && i < start + length ? (before[i] ?? 0) ^ (before[maskAt + ((i - start) & 3)] ?? 0) : before[i];
          if (chunk[i] !== expected) assert.fail(`length ${length}, offset ${offset}, start ${start}: byte ${i} is ${chunk[i]}, not ${expected}`);
        }
        toggleMask(chunk, maskAt, start, start + length);
        // Nothing outside the payload changed, in the chunk or around it.
        assert.ok(memory.equals(memoryBefore), `length ${length}, offset ${offset}, start ${start}: masking twice changed the memory`);
        checked++;
      }
    }
  }
  assert.equal(checked, lengths.length * 64);
});
