import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:net';

/**
 * More accepts per turn of the event loop for one listening socket.
 *
 * Node.js 20 (libuv 1.46) takes one connection from a listening descriptor's queue each time the loop polls,
 * so a server accepts at most one connection per turn, and a turn lasts as long as the work its poll brings. In a
 * reconnect storm the turns are long (each carries the upgrades and boots of the connections accepted before), the
 * kernel's queue stays full for seconds, and every SYN, handshake ACK and request that arrives meanwhile is dropped
 * and comes back on the kernel's retransmission timers, which double each time: the last chargers of a storm wait on
 * those timers, not on the gateway (bench/analysis.md, twenty-sixth round).
 *
 * Each copy here is another descriptor of the same listening socket (same port, same queue), watched by the loop
 * like the first: every descriptor that polls ready takes one connection, so a turn accepts up to `count`
 * connections. The connections it takes are handed to the original server as its own, so everything attached to
 * its 'connection' event (the HTTP server, admission limits, accept order) sees them alike.
 *
 * Node.js 20 has no `dup()` and no `reusePort`, so the copies are made the way Node passes sockets between
 * processes: the listening handle is sent to a short-lived helper process over an IPC channel and sent back; each
 * trip through the kernel's SCM_RIGHTS yields a new descriptor. The helper never listens on what it receives (a
 * raw handle, not a server), so it accepts nothing, and it exits once every copy is back.
 */

/** How long the helper may take to hand back every copy before the server goes on with the descriptors it has. */
const HELPER_TIMEOUT_MS = 10_000;

/**
 * The helper: sends every handle straight back, closes its own descriptor once the handle is on its way, and leaves
 * when the last is back.
 */
const HELPER_SOURCE = [
  'let returned = 0;',
  'process.on("message", (message, handle) => {',
  '  process.send(message, handle, () => {',
  '    handle.close();',
  '    if (++returned === message.count) process.disconnect();',
  '  });',
  '});',
].join('\n');

/** Node's listening handle: a libuv TCP handle with its descriptor (absent or -1 where there is none to copy). */
type ListeningHandle = { fd?: number };

/** Why no copies were made, when none could be. */
export class ListenerCopiesError extends Error {}

/**
 * Makes `count` more descriptors of `server`'s listening socket and has each accept for it. `server` must be
 * listening. Resolves with the copies (each a `net.Server`; close them with the server). In a cluster worker, where
 * the primary accepts and hands connections on, and where the socket has no descriptor, it resolves with none.
 * Rejects with ListenerCopiesError when the helper process fails; the server then goes on with one descriptor.
 */
export async function copyListener(server: Server, count: number, backlog: number): Promise<Server[]> {
  const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
  if (count <= 0 || cluster.isWorker || typeof handle?.fd !== 'number' || handle.fd < 0) return [];
  const handles = await roundTrip(handle, count);
  // Each connection a copy accepts is the server's: emitted on it as Node emits its own.
  const forward = (socket: unknown): void => {
    server.emit('connection', socket);
  };
  return handles.map((copy) => {
    // noDelay as an HTTP server sets it on the connections it accepts.
    const listener = createServer({ noDelay: true });
    listener.on('connection', forward);
    // libuv keeps accept errors to itself (it sheds load on EMFILE and polls again), so none is expected here once
    // listening; should one come, it must not end the process, and the copy goes on accepting like the server.
    listener.on('error', () => {});
    // The socket is listening already; listen() on a copy only starts watching it, with the server's backlog
    // (a smaller one here would shrink the shared queue).
    listener.listen({ _handle: copy } as unknown as { fd: number }, backlog);
    return listener;
  });
}

/** Sends `handle` to a helper process `count` times and collects what comes back: one new descriptor each time. */
function roundTrip(handle: ListeningHandle, count: number): Promise<ListeningHandle[]> {
  return new Promise((resolve, reject) => {
    // Without the gateway's Node.js options (spawn passes on no execArgv): a profiler or inspector flag, or a preload
    // from NODE_OPTIONS, has no business in the helper.
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, ['-e', HELPER_SOURCE], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env });
    const copies: ListeningHandle[] = [];
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === undefined) {
        resolve(copies);
        return;
      }
      for (const copy of copies) (copy as { close?: () => void }).close?.();
      child.kill();
      reject(err);
    };
    const timer = setTimeout(
      () => finish(new ListenerCopiesError(`the helper process did not return ${count} listening descriptors within ${HELPER_TIMEOUT_MS} ms`)),
      HELPER_TIMEOUT_MS,
    );
    child.on('error', (err) => finish(new ListenerCopiesError(`the helper process could not start: ${err.message}`)));
    // 'close' comes after the exit and after the channel's last message was read: every copy sent is in by then.
    child.on('close', (code, signal) => {
      if (copies.length < count) finish(new ListenerCopiesError(`the helper process ended (${signal ?? `code ${code}`}) after ${copies.length} of ${count} descriptors`));
    });
    child.on('message', (_message, copy: ListeningHandle | undefined) => {
      if (copy === undefined) return;
      copies.push(copy);
      if (copies.length === count) finish();
    });
    for (let i = 0; i < count; i++) child.send({ count }, handle as never);
  });
}
