/**
 * What a result depends on besides the code: the machine (CPU, cores, memory, kernel, limits), the
 * Node.js version and the git commit, plus how busy the machine was while a run went on, since a
 * benchmark shares it with whatever else is running.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { REPO_ROOT } from './targets.js';

export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  platform: string;
  node: string;
  /** Open files per process (soft limit): the ceiling on sockets per process. */
  openFilesLimit: number | null;
  somaxconn: number | null;
  localPortRange: string | null;
}

export interface SourceInfo {
  commit: string | null;
  /** Uncommitted changes in the tree, other than the results and BENCHMARKS.md themselves. */
  dirty: boolean | null;
  /** The paths that make it dirty (at most 20). */
  dirtyPaths: string[];
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function openFilesLimit(): number | null {
  const limits = readText('/proc/self/limits');
  const m = limits ? /Max open files\s+(\d+)/.exec(limits) : null;
  return m ? Number(m[1]) : null;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  const somaxconn = readText('/proc/sys/net/core/somaxconn');
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    openFilesLimit: openFilesLimit(),
    somaxconn: somaxconn === null ? null : Number(somaxconn),
    localPortRange: readText('/proc/sys/net/ipv4/ip_local_port_range')?.replace(/\s+/g, '-') ?? null,
  };
}

function git(args: string[], trim = true): string | null {
  try {
    const out = execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return trim ? out.trim() : out;
  } catch {
    return null;
  }
}

export function sourceInfo(): SourceInfo {
  const commit = git(['rev-parse', 'HEAD']);
  // Untrimmed: each porcelain line starts with two status columns, the first often a space (" M path").
  const status = git(['status', '--porcelain', '--', '.', ':(exclude)bench/results', ':(exclude)BENCHMARKS.md'], false);
  const paths =
    status === null
      ? []
      : status
          .split('\n')
          .filter(Boolean)
          .map((l) => l.slice(3));
  return { commit, dirty: status === null ? null : paths.length > 0, dirtyPaths: paths.slice(0, 20) };
}

/** Kernel TCP counters that show a server falling behind on new connections (machine-wide, from /proc/net/netstat). */
export interface TcpCounters {
  /** Connections completed while the accept queue was full (the server did not accept() fast enough). */
  listenOverflows: number;
  listenDrops: number;
  synRetransmits: number;
  syncookiesSent: number;
  /** Handshake completions whose SYN cookie no longer checked out: the client got a reset. */
  syncookiesFailed: number;
}

const TCP_FIELDS: Record<keyof TcpCounters, string> = {
  listenOverflows: 'ListenOverflows',
  listenDrops: 'ListenDrops',
  synRetransmits: 'TCPSynRetrans',
  syncookiesSent: 'SyncookiesSent',
  syncookiesFailed: 'SyncookiesFailed',
};

export function tcpCounters(): TcpCounters | null {
  const text = readText('/proc/net/netstat');
  if (!text) return null;
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.startsWith('TcpExt:'));
  if (header < 0 || !lines[header + 1]?.startsWith('TcpExt:')) return null;
  const names = lines[header].split(/\s+/);
  const values = lines[header + 1].split(/\s+/).map(Number);
  const out = {} as TcpCounters;
  for (const [key, name] of Object.entries(TCP_FIELDS) as Array<[keyof TcpCounters, string]>) {
    const i = names.indexOf(name);
    out[key] = i > 0 ? values[i] : 0;
  }
  return out;
}

/** `after - before`, field by field. */
export function tcpDelta(before: TcpCounters | null, after: TcpCounters | null): TcpCounters | null {
  if (!before || !after) return null;
  const out = {} as TcpCounters;
  for (const key of Object.keys(TCP_FIELDS) as Array<keyof TcpCounters>) out[key] = after[key] - before[key];
  return out;
}

/** CPU time used by processes, and all CPU time, of the whole machine from /proc/stat (clock ticks). */
interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): CpuTimes | null {
  const stat = readText('/proc/stat');
  const line = stat?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user + nice + system: what processes used. Interrupt and softirq time (the loopback network's
  // packet work done outside any process) is left out, so that it does not read as other programs.
  const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is already in user
  return { busy, total };
}

/** Measures how busy the machine was over a stretch of time, in percent of one core (200 = two cores flat out). */
export class MachineLoad {
  private readonly start = cpuTimes();
  private readonly startedAt = Date.now();
  readonly loadAverageBefore = os.loadavg()[0];

  /** Machine CPU since construction, in percent of one core; null without /proc/stat. */
  cpuPercent(): number | null {
    const end = cpuTimes();
    if (!this.start || !end || end.total <= this.start.total) return null;
    const cores = os.availableParallelism();
    return Math.round(((end.busy - this.start.busy) / (end.total - this.start.total)) * cores * 1000) / 10;
  }

  get elapsedSec(): number {
    return (Date.now() - this.startedAt) / 1000;
  }
}
