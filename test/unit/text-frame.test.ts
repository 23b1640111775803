import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ws from 'ws';
import { textFrame } from '../../src/transport/text-frame.js';

/** ws's own framing of the same text (unmasked, FIN, text opcode): the independent oracle. */
function wsFrame(text: string): Buffer {
  const data = Buffer.from(text, 'utf8');
  const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
  const parts = Sender.frame(data, {
    fin: true,
    rsv1: false,
    opcode: 1,
    mask: false,
    readOnly: false,
  });
  return Buffer.concat(parts);
}

test('a text frame is byte for byte what ws frames, at every length boundary and with multi-byte UTF-8', () => {
  const lengths = [0, 1, 125, 126, 127, 65535, 65536, 70000];
  for (const n of lengths) {
    const ascii = 'a'.repeat(n);
    assert.deepEqual(textFrame(ascii), wsFrame(ascii), `ascii of ${n} characters`);
  }
  // 3-byte and 4-byte characters move the byte length across the boundaries the character count stays below.
  for (const text of ['é'.repeat(63), 'é'.repeat(64), '€'.repeat(42), '€'.repeat(21846), '😀'.repeat(16384), '[3,"id",{"a":"ß"}]']) {
    assert.deepEqual(textFrame(text), wsFrame(text), `${text.slice(0, 8)}… (${Buffer.byteLength(text)} bytes)`);
  }
});
