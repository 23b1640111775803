/**
 * Rewrites a V8 perf map (`/tmp/perf-<pid>.map`, written by `node --perf-basic-prof`) so that every address has
 * only its newest name: `node dist/bench/perf-map-newest.js /tmp/perf-<pid>.map`, after the profiled process has
 * ended and before `perf script` or `perf report` reads the map.
 *
 * V8 appends a line whenever it places code, and it places new code where collected code was. The map then holds
 * two names for one address, and perf may take the older one: a reconnect storm's samples came out under ajv's
 * schema compiler, which had only run at start-up, until the map was rewritten this way. A profile taken long
 * after start-up wants the newest name; one whose code moved during the profile can still be misnamed, and a
 * reconnect storm's is (bench/analysis.md, thirteenth round): profile those with `--perf-prof` and `perf inject --jit`,
 * which name each sample by the code at its address at that moment (README, "Benchmarks").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Entry {
  start: number;
  end: number;
  line: string;
}

/** The lines of a perf map with every entry dropped that a later entry overlaps, in address order. */
export function newestEntries(lines: readonly string[]): string[] {
  // Non-overlapping entries kept so far, by start address; read from the newest line back.
  const kept: Entry[] = [];
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) /.exec(lines[i]);
    if (match === null) continue;
    const start = Number.parseInt(match[1], 16);
    const end = start + Number.parseInt(match[2], 16);
    // The first kept entry that starts at or after `end`; the one before it is the only one that can overlap.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid].start < end) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && kept[lo - 1].end > start) continue;
    kept.splice(lo, 0, { start, end, line: lines[i] });
  }
  return kept.map((entry) => entry.line);
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: node dist/bench/perf-map-newest.js /tmp/perf-<pid>.map\n');
    process.exit(2);
  }
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '');
  const kept = newestEntries(lines);
  writeFileSync(file, `${kept.join('\n')}\n`);
  process.stdout.write(`${file}: kept ${kept.length} of ${lines.length} entries\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
