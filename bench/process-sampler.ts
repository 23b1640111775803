/**
 * RSS, CPU and open files of several processes at once (the gateway's workers, NATS, Redis), read
 * from /proc once a second, for the cluster scenarios where the simulator's single `--server-pid`
 * would see only the primary.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface WatchedProcess {
  /** What the process is, e.g. `worker 1`, `nats-server`. */
  role: string;
  pid: number;
}

export interface ProcessFigures extends WatchedProcess {
  rssBeforeMB: number;
  /** RSS when the load window ended (connections still open). */
  rssLoadedMB: number;
  rssPeakMB: number;
  /** Average CPU over the load window, percent of one core. */
  cpuPct: number | null;
  /** Average CPU from `markSteadyStart` (every charger connected) to the end of the load window; null without it. */
  cpuSteadyPct: number | null;
  /** Open file descriptors when the load window ended (sockets, mostly). */
  openFilesLoaded: number | null;
  gone: boolean;
}

const TICKS_PER_SEC = 100; // USER_HZ on Linux
const PAGE_KB = 4;

interface Reading {
  rssMB: number;
  cpuTicks: number;
}

function read(pid: number): Reading | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state is [0]; utime [11], stime [12], rss (pages) [21].
    return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssMB: Math.round(((Number(fields[21]) * PAGE_KB) / 1024) * 10) / 10 };
  } catch {
    return null;
  }
}

function openFiles(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** The children of `pid` (scanning /proc: the per-task `children` file is not always there). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

export class ProcessSampler {
  private readonly state = new Map<
    number,
    { before: Reading | null; loaded: Reading | null; peakMB: number; startTicks: number | null; steadyTicks: number | null; files: number | null }
  >();
  private steadyStartedAt: number | null = null;
  private readonly timer: NodeJS.Timeout;
  private loadStartedAt = Date.now();
  private loadEndedAt: number | null = null;

  constructor(private readonly processes: WatchedProcess[]) {
    for (const p of processes) {
      const r = read(p.pid);
      this.state.set(p.pid, { before: r, loaded: null, peakMB: r?.rssMB ?? 0, startTicks: r?.cpuTicks ?? null, steadyTicks: null, files: null });
    }
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  private sample(): void {
    for (const p of this.processes) {
      const s = this.state.get(p.pid)!;
      const r = read(p.pid);
      if (r) s.peakMB = Math.max(s.peakMB, r.rssMB);
    }
  }

  /** The load begins now: CPU is counted from here. */
  markLoadStart(): void {
    this.loadStartedAt = Date.now();
    for (const p of this.processes) {
      const s = this.state.get(p.pid)!;
      s.startTicks = read(p.pid)?.cpuTicks ?? null;
    }
  }

  /** The steady part of the load begins now (the ramp is over): CPU is also counted from here on its own. */
  markSteadyStart(): void {
    if (this.loadEndedAt !== null) return;
    this.steadyStartedAt = Date.now();
    for (const p of this.processes) {
      const s = this.state.get(p.pid)!;
      s.steadyTicks = read(p.pid)?.cpuTicks ?? null;
    }
  }

  /** The load window ends now: RSS, CPU and open files are read as loaded. */
  markLoaded(): void {
    if (this.loadEndedAt !== null) return;
    this.loadEndedAt = Date.now();
    for (const p of this.processes) {
      const s = this.state.get(p.pid)!;
      s.loaded = read(p.pid);
      s.files = openFiles(p.pid);
      if (s.loaded) s.peakMB = Math.max(s.peakMB, s.loaded.rssMB);
    }
  }

  stop(): ProcessFigures[] {
    clearInterval(this.timer);
    this.markLoaded();
    const sec = Math.max(0.001, ((this.loadEndedAt ?? Date.now()) - this.loadStartedAt) / 1000);
    return this.processes.map((p) => {
      const s = this.state.get(p.pid)!;
      const cpu = s.loaded && s.startTicks !== null ? Math.round(((s.loaded.cpuTicks - s.startTicks) / TICKS_PER_SEC / sec) * 1000) / 10 : null;
      const steadySec = this.steadyStartedAt === null ? 0 : ((this.loadEndedAt ?? Date.now()) - this.steadyStartedAt) / 1000;
      const cpuSteady =
        s.loaded && s.steadyTicks !== null && steadySec > 0 ? Math.round(((s.loaded.cpuTicks - s.steadyTicks) / TICKS_PER_SEC / steadySec) * 1000) / 10 : null;
      return {
        ...p,
        rssBeforeMB: s.before?.rssMB ?? 0,
        rssLoadedMB: s.loaded?.rssMB ?? 0,
        rssPeakMB: s.peakMB,
        cpuPct: cpu,
        cpuSteadyPct: cpuSteady,
        openFilesLoaded: s.files,
        gone: s.loaded === null,
      };
    });
  }
}
