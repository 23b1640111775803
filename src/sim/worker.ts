/**
 * Entry point of a simulator worker process (started with child_process.fork by runSimulation).
 * Each worker runs one shard of the chargers in its own event loop and within its own open-file
 * limit, and reports cumulative counters to the parent once a second.
 *
 * Messages from the parent: {type:'start', config} then optionally {type:'drop'} (cut every socket now) and {type:'stop'}.
 * Messages to the parent: {type:'snapshot', snapshot} each second, {type:'final', snapshot} at the end.
 */

import type { WorkerSnapshot } from './metrics.js';
import { runShard, type ShardConfig } from './run-shard.js';

export type ToWorker = { type: 'start'; config: ShardConfig } | { type: 'stop' } | { type: 'drop' };
export type FromWorker = { type: 'snapshot'; snapshot: WorkerSnapshot } | { type: 'final'; snapshot: WorkerSnapshot };

if (!process.send) {
  process.stderr.write('sim worker: start me with child_process.fork\n');
  process.exit(2);
}
const sendToParent = process.send.bind(process);

let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
let started = false;
let drop: () => void = () => {};
const dropped = new Promise<void>((resolve) => (drop = resolve));

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    sendToParent(message, undefined, {}, () => resolve());
  });
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    stop();
    return;
  }
  if (message.type === 'drop') {
    drop();
    return;
  }
  if (message.type !== 'start' || started) return;
  started = true;
  runShard(message.config, {
    stopped,
    drop: dropped,
    onSnapshot: (snapshot) => void send({ type: 'snapshot', snapshot }),
  }).then(
    async (snapshot) => {
      await send({ type: 'final', snapshot });
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`sim worker ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
});

// Ctrl-C in a terminal reaches the whole process group: the parent decides (it drains, then stops
// us), so a worker must not die on it and drop its sockets without a close.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => stop());

// The parent went away: wind down as if asked to stop, and never outlive it for long.
process.on('disconnect', () => {
  stop();
  setTimeout(() => process.exit(1), 15_000).unref();
});
