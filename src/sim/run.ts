/**
 * runSimulation: splits the chargers over worker processes (or runs them here), follows the run
 * with live lines, samples the server under test, and builds the report.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { WorkerSnapshot } from './metrics.js';
import { type ResolvedOptions, resolveOptions, type SimulationOptions } from './options.js';
import { type ProcessSample, ProcessSampler, StormServerClock } from './proc-stats.js';
import { buildReport, formatProgress, type ProgressState, type SimulationReport } from './report.js';
import { runShard, type ShardConfig } from './run-shard.js';
import type { FromWorker, ToWorker } from './worker.js';

export type { SimulationOptions } from './options.js';
export type { SimulationReport } from './report.js';

const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Contiguous slices of charger numbers, one per process, with an equal share of the ramp. */
function planShards(o: ResolvedOptions): ShardConfig[] {
  const n = Math.max(1, o.workers);
  const shards: ShardConfig[] = [];
  for (let w = 0; w < n; w++) {
    const from = Math.floor((o.chargers * w) / n);
    const to = Math.floor((o.chargers * (w + 1)) / n);
    shards.push({ options: o, workerIndex: w, from, to, rampPerSec: o.rampPerSec / n });
  }
  return shards;
}

/** Runs one shard in a forked worker; resolves with its final snapshot (or its last one if it died). */
function runInWorker(config: ShardConfig, onSnapshot: (s: WorkerSnapshot) => void, stopped: Promise<void>, dropped: Promise<void>): Promise<WorkerSnapshot> {
  const o = config.options;
  return new Promise((resolve, reject) => {
    // No inherited execArgv: under `node --test` it would make the worker a test file.
    const child: ChildProcess = fork(WORKER_ENTRY, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let last: WorkerSnapshot | null = null;
    let final: WorkerSnapshot | null = null;
    // A worker stuck past every deadline is killed rather than left behind.
    const guard = setTimeout(() => child.kill('SIGKILL'), o.durationMs + o.drainMs + 30_000);
    child.on('message', (message: FromWorker) => {
      if (message.type === 'snapshot') {
        last = message.snapshot;
        onSnapshot(message.snapshot);
      } else if (message.type === 'final') {
        final = message.snapshot;
        onSnapshot(message.snapshot);
      }
    });
    child.once('error', (error) => {
      clearTimeout(guard);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(guard);
      if (final) resolve(final);
      else if (last) resolve({ ...(last as WorkerSnapshot), final: false });
      else reject(new Error(`simulator worker ${config.workerIndex} exited (${signal ?? code}) before reporting`));
    });
    const send = (m: ToWorker): void => {
      if (child.connected) child.send(m);
    };
    send({ type: 'start', config });
    void dropped.then(() => send({ type: 'drop' }));
    void stopped.then(() => send({ type: 'stop' }));
  });
}

/** How long before a timed drop the server's clocks start being read closely. */
const STORM_CLOCK_LEAD_MS = 2000;

/**
 * Runs a whole simulation and returns its report. With `workers: 0` every charger runs in this
 * process (handy in tests); otherwise they are spread over forked workers.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const o = resolveOptions(options);
  const log = options.log;
  const shards = planShards(o);
  const latest: WorkerSnapshot[] = [];

  const sampler = o.serverPid !== undefined ? new ProcessSampler(o.serverPid) : null;
  if (sampler?.gone) throw new RangeError(`--server-pid ${o.serverPid}: cannot read /proc/${o.serverPid}`);
  sampler?.sample(); // the baseline, before the first connection
  let lastServer: ProcessSample | null = null;
  let serverLoadedIndex = 0;
  const storming = o.dropAllAtMs !== null || o.dropAfterAllBootedMs !== null;
  const serverClock = storming && o.serverPid !== undefined ? new StormServerClock(o.serverPid) : null;

  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let stoppedAt: number | null = null;
  const onAbort = (): void => {
    stoppedAt ??= performance.now();
    stop();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const startedAt = new Date();
  const t0 = performance.now();
  const loadEnd = (): number => Math.min(stoppedAt ?? Infinity, t0 + o.durationMs);
  let progress: ProgressState = { atMs: 0, callsSent: 0, frames: 0, latency: null };
  let lastLine = 0;
  /** When every worker reported its dropped chargers all booted again (--end-after-storm). */
  let stormOverAt: number | null = null;
  let drop: () => void = () => {};
  const dropped = new Promise<void>((resolve) => (drop = resolve));
  /** --drop-after-boot: when every charger of the run was seen booted, and whether the workers were told to drop. */
  let allBootedAt: number | null = null;
  let dropSent = false;
  // The server's clocks are read closely around the storm only: from shortly before the drop until it is over.
  const clockStart = o.dropAllAtMs !== null ? setTimeout(() => serverClock?.start(), Math.max(0, o.dropAllAtMs - STORM_CLOCK_LEAD_MS)) : null;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (o.dropAfterAllBootedMs !== null && !dropSent) {
      const workers = latest.filter(Boolean);
      if (allBootedAt === null && workers.length === shards.length && workers.reduce((a, s) => a + s.metrics.booted, 0) === o.chargers) {
        allBootedAt = now;
        serverClock?.start();
        log?.(`[${((now - t0) / 1000).toFixed(1).padStart(6)}s] every charger booted; cutting every socket in ${o.dropAfterAllBootedMs / 1000} s`);
      }
      if (allBootedAt !== null && now - allBootedAt >= o.dropAfterAllBootedMs) {
        dropSent = true;
        drop();
      }
    }
    if (o.endAfterStormMs !== null) {
      const workers = latest.filter(Boolean);
      if (stormOverAt === null && workers.length === shards.length && workers.every((s) => s.metrics.allRebootedAtMs >= 0)) {
        stormOverAt = now;
        serverClock?.stopSoon();
        log?.(`[${((now - t0) / 1000).toFixed(1).padStart(6)}s] every dropped charger booted again; ending in ${o.endAfterStormMs / 1000} s`);
      }
      if (stormOverAt !== null && now - stormOverAt >= o.endAfterStormMs) onAbort();
    }
    if (sampler && !sampler.gone) {
      lastServer = sampler.sample() ?? lastServer;
      if (now <= loadEnd()) serverLoadedIndex = sampler.samples.length - 1;
    }
    if (log && latest.length > 0 && now - lastLine >= o.reportEveryMs - 50) {
      lastLine = now;
      const p = formatProgress(now - t0, o.chargers, latest.filter(Boolean), progress, lastServer);
      progress = p.state;
      log(p.line);
    }
  }, 1000);

  let finals: WorkerSnapshot[];
  try {
    const onSnapshot = (s: WorkerSnapshot): void => {
      latest[s.workerIndex] = s;
    };
    if (o.workers === 0) {
      finals = [await runShard(shards[0], { onSnapshot, stopped, drop: dropped })];
    } else {
      finals = await Promise.all(shards.map((cfg) => runInWorker(cfg, onSnapshot, stopped, dropped)));
    }
  } finally {
    clearInterval(ticker);
    if (clockStart !== null) clearTimeout(clockStart);
    serverClock?.stop();
    options.signal?.removeEventListener('abort', onAbort);
  }

  const finishedAt = new Date();
  return buildReport({
    options: o,
    startedAt,
    finishedAt,
    loadMs: loadEnd() - t0,
    snapshots: finals,
    serverPid: o.serverPid,
    serverSamples: sampler?.samples ?? [],
    serverLoadedIndex,
    serverGone: sampler?.gone ?? false,
    serverClock: serverClock?.readings ?? [],
  });
}
