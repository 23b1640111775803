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
