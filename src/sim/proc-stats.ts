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

/** utime + stime of every thread of the process, in clock ticks; throws once it is gone. */
function cpuTicksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function readRaw(pid: number): Raw | null {
  try {
    const cpuTicks = cpuTicksOf(pid);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const threads = /Threads:\s+(\d+)/.exec(status);
    return {
      cpuTicks,
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

/**
 * What the server under test has used so far, read at one moment: for a window such as a reconnect storm's, where
 * the difference between two readings says how much CPU the server got and how long its event loop waited for a
 * core. On two cores shared with the simulator the second is what a storm's length hides: a server that wants the
 * CPU and waits for it drains its listen queue slower than one that runs.
 */
export interface ServerClockReading {
  /** Wall clock, ms since the epoch. */
  atEpochMs: number;
  /** utime + stime of all its threads, ms (counted by the kernel in ticks of 10 ms). */
  cpuMs: number;
  /**
   * Its main thread, which runs the event loop: time on a core, and time runnable but waiting for one (the first
   * two fields of /proc/<pid>/task/<pid>/schedstat, ns). Null where the kernel does not keep them.
   */
  mainRanMs: number | null;
  mainWaitedMs: number | null;
}

/** Reads the server's clocks now; null once it is gone. */
export function readServerClock(pid: number): ServerClockReading | null {
  try {
    const cpuMs = (cpuTicksOf(pid) / CLOCK_TICKS) * 1000;
    let mainRanMs: number | null = null;
    let mainWaitedMs: number | null = null;
    try {
      const [ran, waited] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
      if (ran !== undefined && waited !== undefined && Number.isFinite(Number(ran)) && Number.isFinite(Number(waited))) {
        mainRanMs = Number(ran) / 1e6;
        mainWaitedMs = Number(waited) / 1e6;
      }
    } catch {
      // A kernel without schedstat: the CPU alone is still worth reporting.
    }
    return { atEpochMs: Date.now(), cpuMs, mainRanMs, mainWaitedMs };
  } catch {
    return null;
  }
}

/** The server's use of the machine over a window (seconds), as the difference of two readings. */
export interface ServerUsage {
  /** The window the two readings actually span: at least the one asked for, wider by up to one reading interval at each end. */
  windowSec: number;
  cpuSec: number;
  mainThreadRanSec: number | null;
  mainThreadWaitedSec: number | null;
}

/** Of the time the main thread wanted a core, the share it waited for one, in whole percent; null where unknown. */
export function waitedPercent(u: ServerUsage): number | null {
  const ran = u.mainThreadRanSec;
  const waited = u.mainThreadWaitedSec;
  return ran === null || waited === null || ran + waited <= 0 ? null : Math.round((100 * waited) / (ran + waited));
}

/**
 * The server's use over [fromEpochMs, toEpochMs]: from the last reading at or before the start to the first at or
 * after the end, so the window is never narrower than asked. Null when the readings do not reach both ends.
 */
export function serverUsageBetween(readings: readonly ServerClockReading[], fromEpochMs: number, toEpochMs: number): ServerUsage | null {
  let start: ServerClockReading | undefined;
  let end: ServerClockReading | undefined;
  for (const r of readings) {
    if (r.atEpochMs <= fromEpochMs) start = r;
    if (r.atEpochMs >= toEpochMs) {
      end = r;
      break;
    }
  }
  if (start === undefined || end === undefined) return null;
  const seconds = (ms: number): number => Math.round(ms) / 1000;
  const main = (pick: (r: ServerClockReading) => number | null): number | null => {
    const a = pick(start);
    const b = pick(end);
    return a === null || b === null ? null : seconds(b - a);
  };
  return {
    windowSec: seconds(end.atEpochMs - start.atEpochMs),
    cpuSec: seconds(end.cpuMs - start.cpuMs),
    mainThreadRanSec: main((r) => r.mainRanMs),
    mainThreadWaitedSec: main((r) => r.mainWaitedMs),
  };
}

/** Readings of a reconnect storm: ten a second, at most ten minutes of them. */
const STORM_CLOCK_INTERVAL_MS = 100;
const STORM_CLOCK_MAX_READINGS = 6000;

/**
 * Reads the server's clocks every 100 ms from `start()` until `stop()`, for the storm's window; a reading costs
 * two small reads of /proc, far less than the simulator's own sampling of a second.
 */
export class StormServerClock {
  readonly readings: ServerClockReading[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly pid: number) {}

  start(): void {
    if (this.timer !== null || this.stopped) return;
    this.read();
    this.timer = setInterval(() => this.read(), STORM_CLOCK_INTERVAL_MS);
  }

  /** The storm is over: one more second of readings, so that one lies past its end whatever the detection's delay. */
  stopSoon(): void {
    setTimeout(() => this.stop(), 1000).unref();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.read();
    }
    this.timer = null;
  }

  private read(): void {
    if (this.readings.length >= STORM_CLOCK_MAX_READINGS) {
      this.stop();
      return;
    }
    const reading = readServerClock(this.pid);
    if (reading !== null) this.readings.push(reading);
  }
}
