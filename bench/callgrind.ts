/**
 * Counting a server's work under valgrind's callgrind instead of timing it: the instructions it executes and the
 * cache misses a simulated cache sees, for a stretch of work bracketed from outside (`callgrind_control -z`, then
 * `-d`). On a shared virtual machine without hardware counters, CPU time per CALL moves by 1.5x between runs; these
 * counts move by a few percent, which is what judging a small change needs. They leave out the kernel (socket
 * reads and writes) and they model the caches rather than measure them.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Event counts of one dump, by callgrind's names: Ir (instructions), Dr/Dw (data reads/writes), I1mr, D1mr, ... */
export type EventCounts = Record<string, number>;

/** The `events:` names and the `totals:` (or `summary:`) line of a callgrind output file. */
export function readCallgrindTotals(text: string): EventCounts {
  const events = /^events: (.+)$/m.exec(text);
  const totals = /^(?:totals|summary): (.+)$/m.exec(text);
  if (!events || !totals) throw new Error('not a callgrind output file: no events or totals line');
  const names = events[1].trim().split(/\s+/);
  const values = totals[1].trim().split(/\s+/).map(Number);
  const counts: EventCounts = {};
  // A trailing event that never happened is left off the totals line: it counts as zero.
  names.forEach((name, i) => {
    counts[name] = values[i] ?? 0;
  });
  if (!Number.isFinite(counts.Ir)) throw new Error('callgrind totals without an instruction count (Ir)');
  return counts;
}

/**
 * KCachegrind's rough cycle estimate: an instruction costs 1, a first-level miss 10, a last-level miss 100. It is a
 * model, not the machine; it is here so that a change that runs fewer instructions but misses the cache more is
 * not read as a gain. Without cache simulation it is the instruction count.
 */
export function estimatedCycles(c: EventCounts): number {
  return c.Ir + 10 * firstLevelMisses(c) + 100 * lastLevelMisses(c);
}

/** Misses of the first-level caches: instruction reads, data reads and data writes (0 without cache simulation). */
export function firstLevelMisses(c: EventCounts): number {
  return (c.I1mr ?? 0) + (c.D1mr ?? 0) + (c.D1mw ?? 0);
}

/** Misses of the last level, the same three kinds. */
export function lastLevelMisses(c: EventCounts): number {
  return (c.ILmr ?? 0) + (c.DLmr ?? 0) + (c.DLmw ?? 0);
}

/** valgrind's arguments for a server measured this way; the caches are given so that runs on any host compare. */
export function callgrindLauncher(outDir: string, cache: { l1Bytes: number; llBytes: number }): string[] {
  const l1 = `${cache.l1Bytes},8,64`;
  return [
    'valgrind',
    '--tool=callgrind',
    // V8 writes machine code into memory it then runs: valgrind must check every such block, not only the stack.
    '--smc-check=all-non-file',
    '--cache-sim=yes',
    `--I1=${l1}`,
    `--D1=${l1}`,
    `--LL=${cache.llBytes},16,64`,
    `--callgrind-out-file=${join(outDir, 'cg.%p')}`,
  ];
}

/** Zeroes and dumps the counters of one process running under callgrind. */
export class CallgrindControl {
  constructor(
    private readonly pid: number,
    private readonly outDir: string,
  ) {}

  /** Starts a stretch: every counter back to zero. */
  async zero(): Promise<void> {
    await run('callgrind_control', ['-z', String(this.pid)]);
  }

  /**
   * Ends a stretch: the counts since the last zero. The dump file is read and removed, or moved to `keepAs` for
   * `callgrind_annotate` (which function, and which object: V8's generated code or Node's and V8's own, did the work).
   */
  async dump(keepAs?: string): Promise<EventCounts> {
    await run('callgrind_control', ['-d', String(this.pid)]);
    const prefix = `cg.${this.pid}.`;
    const dumps = readdirSync(this.outDir)
      .filter((f) => f.startsWith(prefix))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
    const newest = dumps.at(-1);
    if (!newest) throw new Error(`callgrind wrote no dump for process ${this.pid} in ${this.outDir}`);
    const file = join(this.outDir, newest);
    const counts = readCallgrindTotals(readFileSync(file, 'utf8'));
    if (keepAs === undefined) rmSync(file);
    else renameSync(file, keepAs);
    return counts;
  }
}

/** Whether valgrind and callgrind_control can be run here. */
export async function callgrindAvailable(): Promise<boolean> {
  try {
    await run('valgrind', ['--version']);
    await run('callgrind_control', ['-h']);
    return true;
  } catch {
    return false;
  }
}
