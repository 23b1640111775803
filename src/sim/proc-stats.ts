/**
 * Samples another process's memory and CPU from /proc (Linux), so a benchmark run reports what the
 * server under test cost, from outside it and without its cooperation.
 */
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for utime/stime; 100 on every mainstream Linux build. */
const CLOCK_TICKS = 100;

export interface ProcessSample {
  /** Milliseconds since the sampler started. */
  atMs: number;
  rssBytes: number;
  /** CPU over the interval since the previous sample, in percent of one core. */
  cpuPercent: number;
  threads: number;
}

interface Raw {
  cpuTicks: number;
  rssBytes: number;
  threads: number;
  at: number;
}

function readRaw(pid: number): Raw | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const threads = /Threads:\s+(\d+)/.exec(status);
    return {
      cpuTicks: utime + stime,
      rssBytes: rss ? Number(rss[1]) * 1024 : 0,
      threads: threads ? Number(threads[1]) : 0,
      at: Date.now(),
    };
  } catch {
    return null;
  }
}

export class ProcessSampler {
  private previous: Raw | null;
  private readonly startedAt = Date.now();
  readonly samples: ProcessSample[] = [];
  /** Set once the process could not be read any more (exited). */
  gone = false;

  constructor(readonly pid: number) {
    this.previous = readRaw(pid);
    if (!this.previous) this.gone = true;
  }

  /** The first reading: RSS before the run started. */
  get baselineRssBytes(): number {
    return this.samples.length ? this.samples[0].rssBytes : 0;
  }

  /** Takes a sample; null when the process is gone. */
  sample(): ProcessSample | null {
    const raw = readRaw(this.pid);
    if (!raw) {
      this.gone = true;
      return null;
    }
    const prev = this.previous;
    const seconds = prev ? (raw.at - prev.at) / 1000 : 0;
    const cpuPercent = prev && seconds > 0 ? Math.round(((raw.cpuTicks - prev.cpuTicks) / CLOCK_TICKS / seconds) * 1000) / 10 : 0;
    this.previous = raw;
    const s: ProcessSample = { atMs: raw.at - this.startedAt, rssBytes: raw.rssBytes, cpuPercent, threads: raw.threads };
    this.samples.push(s);
    return s;
  }
}

/** Whether /proc/<pid> can be read at all (Linux, and the process exists). */
export function canSample(pid: number): boolean {
  return readRaw(pid) !== null;
}
