/**
 * The timeline of one simulator process: start its shard, report once a second, end at
 * --duration (or when told to stop), drain, close, and hand back the final snapshot.
 */
import type { WorkerSnapshot } from './metrics.js';
import { SelfMonitor } from './self-monitor.js';
import { Shard, type ShardConfig } from './shard.js';

export type { ShardConfig } from './shard.js';

export interface ShardHooks {
  /** Called about once a second with cumulative counters. */
  onSnapshot?: (snapshot: WorkerSnapshot) => void;
  /** Resolves when the run should end early. */
  stopped?: Promise<void>;
  /** Resolves when every open socket should be cut (--drop-after-boot: the parent saw every charger booted). */
  drop?: Promise<void>;
}

/** Runs one shard for the whole timeline (ramp and load, drain, close) and returns its final snapshot. */
export async function runShard(config: ShardConfig, hooks: ShardHooks = {}): Promise<WorkerSnapshot> {
  const shard = new Shard(config);
  const monitor = new SelfMonitor();
  const o = config.options;
  const report = setInterval(() => {
    const s = monitor.sample();
    hooks.onSnapshot?.(shard.snapshot(s, [], false));
  }, 1000);
  shard.start();
  void hooks.drop?.then(() => shard.dropAll());
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => (timer = setTimeout(r, o.durationMs))), hooks.stopped ?? new Promise(() => {})]);
  clearTimeout(timer);
  // The self report covers the load only: closing thousands of sockets at the end is a burst of
  // work that says nothing about whether the simulator kept up during the run.
  const loadSample = monitor.sample();
  monitor.keep = false;
  await shard.drain(o.drainMs);
  await shard.closeAll();
  clearInterval(report);
  monitor.stop();
  return shard.snapshot(loadSample, monitor.history, true);
}
