/**
 * The nesting limit's text scan, at its edges: exactly at the limit, one past it, brackets inside strings, and many
 * brackets that never nest (which skip the quick bracket count and go through the full scan).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_NESTING_DEPTH, nestsDeeperThan, parseFrame } from '../../src/ocpp/framing.js';

/** A CALL whose payload holds `levels` nested arrays, so the frame nests `levels + 2` deep (frame, payload, arrays). */
const callNesting = (levels: number) => `[2,"m1","DataTransfer",{"vendorId":"v","data":${'['.repeat(levels)}${']'.repeat(levels)}}]`;

describe('nesting limit', () => {
  it(`a frame exactly ${MAX_NESTING_DEPTH} deep passes; one level more is refused as a format violation`, () => {
    assert.equal(nestsDeeperThan(callNesting(MAX_NESTING_DEPTH - 2), MAX_NESTING_DEPTH), false);
    assert.equal(nestsDeeperThan(callNesting(MAX_NESTING_DEPTH - 1), MAX_NESTING_DEPTH), true);
    const refused = parseFrame(callNesting(MAX_NESTING_DEPTH - 1));
    assert.equal(refused.kind, 'invalid');
    assert.equal(refused.kind === 'invalid' && refused.answer?.reason, 'format');
  });

  it('brackets inside strings do not nest, however many', () => {
    const text = `[2,"m1","DataTransfer",{"vendorId":"v","data":"${'[{'.repeat(500)}"}]`;
    assert.equal(nestsDeeperThan(text, MAX_NESTING_DEPTH), false);
    // A string full of escaped quotes and brackets, then real nesting one past the limit.
    const tricky = `[2,"m1","DataTransfer",{"vendorId":"\\"[[[\\"","data":${'['.repeat(MAX_NESTING_DEPTH - 1)}${']'.repeat(MAX_NESTING_DEPTH - 1)}}]`;
    assert.equal(nestsDeeperThan(tricky, MAX_NESTING_DEPTH), true);
  });

  it('many brackets side by side are shallow', () => {
    const wide = `[2,"m1","DataTransfer",{"vendorId":"v","data":[${Array.from({ length: 300 }, () => '{"a":[1]}').join(',')}]}]`;
    assert.equal(nestsDeeperThan(wide, MAX_NESTING_DEPTH), false);
    assert.equal(parseFrame(wide).kind, 'call');
  });
});
