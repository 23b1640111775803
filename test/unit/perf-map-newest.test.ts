import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newestEntries } from '../../bench/perf-map-newest.js';
import { REPO_ROOT } from '../../bench/targets.js';

describe('perf map: the newest name of every address', () => {
  it('drops an older entry that a newer one overlaps, keeps the rest, in address order', () => {
    const lines = [
      '1000 100 JS:~compileSchema ajv/compile/index.js:33:23', // start-up code, later collected
      '2000 40 JS:*parseFrame framing.js:67:27',
      '1080 20 Builtin:old', // also overlapped by the newest line below
      '3000 10 JS:*orphan tail', // nothing newer overlaps it
      '1010 f0 JS:*handleInbound rpc-endpoint.js:149:18', // placed where compileSchema was
    ];
    assert.deepEqual(newestEntries(lines), ['1010 f0 JS:*handleInbound rpc-endpoint.js:149:18', '2000 40 JS:*parseFrame framing.js:67:27', '3000 10 JS:*orphan tail']);
  });

  it('keeps entries that only touch (one ends where the next starts) and skips lines that are not entries', () => {
    const lines = ['not a map line', '100 10 a', '110 10 b', ''];
    assert.deepEqual(newestEntries(lines), ['100 10 a', '110 10 b']);
  });

  it('agrees with a plain scan over thousands of entries, placed both in order and where earlier ones were', () => {
    // Deterministic pseudo-random addresses, so a failure can be replayed.
    let seed = 12345;
    const next = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % below;
    };
    const lines: string[] = [];
    let address = 0x10000;
    for (let i = 0; i < 6000; i++) {
      // Mostly rising, as V8 places fresh code; every fifth lands on an earlier stretch, as reused code space does.
      const start = i % 5 === 4 ? 0x10000 + next(address - 0x10000) : (address += 0x20 + next(0x100));
      lines.push(`${start.toString(16)} ${(0x10 + next(0x200)).toString(16)} JS:*f${i}`);
    }
    // The oracle: newest first, kept unless a kept entry overlaps it; then in address order.
    const kept: Array<{ start: number; end: number; line: string }> = [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const [start, size] = lines[i].split(' ').map((field) => Number.parseInt(field, 16));
      const end = start + size;
      if (!kept.some((k) => k.start < end && k.end > start)) kept.push({ start, end, line: lines[i] });
    }
    const expected = kept.sort((a, b) => a.start - b.start).map((k) => k.line);
    assert.ok(expected.length > 2000 && expected.length < lines.length, `the case keeps some and drops some (${expected.length})`);
    assert.deepEqual(newestEntries(lines), expected);
  });

  it('rewrites the map file in place when run as a script', () => {
    const dir = mkdtempSync(join(tmpdir(), 'perf-map-'));
    try {
      const file = join(dir, 'perf-1.map');
      writeFileSync(file, 'a0 10 JS:~old\nb0 10 JS:*kept\na8 4 JS:*new\n');
      const out = execFileSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'perf-map-newest.js'), file], { encoding: 'utf8' });
      assert.equal(out, `${file}: kept 2 of 3 entries\n`);
      assert.equal(readFileSync(file, 'utf8'), 'a8 4 JS:*new\nb0 10 JS:*kept\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
