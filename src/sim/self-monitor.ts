/**
 * The simulator's own health: this process's CPU and event-loop delay, sampled once per interval,
 * so a report can tell when the simulator, not the server, was the bottleneck.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { SelfSample } from './metrics.js';

/** Sampling period of the event-loop delay monitor; its readings include this period, which is taken off. */
const LOOP_RESOLUTION_MS = 10;

function lagMs(nanoseconds: number): number {
  return Math.max(0, Math.round((nanoseconds / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
}

export class SelfMonitor {
  private readonly loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private lastCpu = process.cpuUsage();
  private lastAt = performance.now();
  readonly history: SelfSample[] = [];
  /** Whether samples go into the history (only those of the load phase do). */
  keep = true;
  last: SelfSample = { cpuPercent: 0, loopP99Ms: 0, loopMaxMs: 0, rssBytes: process.memoryUsage.rss() };

  constructor() {
    this.loop.enable();
  }

  sample(): SelfSample {
    const now = performance.now();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedMs = Math.max(1, now - this.lastAt);
    this.lastCpu = process.cpuUsage();
    this.lastAt = now;
    const s: SelfSample = {
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 1000) / 10,
      loopP99Ms: lagMs(this.loop.percentile(99)),
      loopMaxMs: lagMs(this.loop.max),
      rssBytes: process.memoryUsage.rss(),
    };
    this.loop.reset();
    if (this.keep) this.history.push(s);
    this.last = s;
    return s;
  }

  stop(): void {
    this.loop.disable();
  }
}
