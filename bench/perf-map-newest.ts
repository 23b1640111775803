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

/** Entries per chunk of `DisjointRanges`: an insert moves at most this many, not the whole list. */
const CHUNK = 512;

/**
 * Address ranges that do not overlap, in address order, held in chunks: a map of 100,000 lines read newest first
 * inserts nearly every entry at the front, and one flat array made that quadratic (16 s by hand).
 */
class DisjointRanges {
  private readonly chunks: Entry[][] = [];

  /** The chunk that holds, or would hold, an entry starting just below `address`: the last whose first starts below it. */
  private chunkBelow(address: number): number {
    return Math.max(0, firstStartingAtOrAfter(this.chunks.length, (i) => this.chunks[i][0].start, address) - 1);
  }

  /** Whether `[start, end)` overlaps a range held: only the last one starting below `end` can. */
  overlaps(start: number, end: number): boolean {
    if (this.chunks.length === 0) return false;
    const chunk = this.chunks[this.chunkBelow(end)];
    const at = firstStartingAtOrAfter(chunk.length, (i) => chunk[i].start, end);
    return at > 0 && chunk[at - 1].end > start;
  }

  add(entry: Entry): void {
    if (this.chunks.length === 0) {
      this.chunks.push([entry]);
      return;
    }
    const index = this.chunkBelow(entry.start);
    const chunk = this.chunks[index];
    chunk.splice(
      firstStartingAtOrAfter(chunk.length, (i) => chunk[i].start, entry.start),
      0,
      entry,
    );
    if (chunk.length > 2 * CHUNK) this.chunks.splice(index + 1, 0, chunk.splice(CHUNK));
  }

  entries(): Entry[] {
    return this.chunks.flat();
  }
}

/** Of `count` items sorted by start (`startOf`), the index of the first that starts at or after `address`. */
function firstStartingAtOrAfter(count: number, startOf: (index: number) => number, address: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (startOf(mid) < address) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The lines of a perf map with every entry dropped that a later entry overlaps, in address order. */
export function newestEntries(lines: readonly string[]): string[] {
  // Read from the newest line back: an entry is kept unless a newer kept one overlaps it.
  const kept = new DisjointRanges();
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = /^([0-9a-fA-F]+) ([0-9a-fA-F]+) /.exec(lines[i]);
    if (match === null) continue;
    const start = Number.parseInt(match[1], 16);
    const end = start + Number.parseInt(match[2], 16);
    if (!kept.overlaps(start, end)) kept.add({ start, end, line: lines[i] });
  }
  return kept.entries().map((entry) => entry.line);
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
