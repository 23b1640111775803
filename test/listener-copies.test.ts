/**
 * Copies of the chargers' listening socket (`server.acceptsPerTurn`, src/transport/listener-copies.ts): Node.js takes
 * one connection per listening descriptor per turn of its event loop, and the copies make a turn take more. Counted
 * from the kernel (the process's descriptors of the listening socket) and through real connections.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { copyListener } from '../src/transport/listener-copies.js';
import { runServerProcessToExit, startGateway, startServerProcess, waitUntil } from './helpers/gateway-harness.js';
import { listeningDescriptors } from './helpers/listening-ports.js';
import { bootPayload, expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

const QUEUED = 40;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as { port: number }).port)));
}

/**
 * Fills the listen queue of `port` with `count` connections while this process cannot accept (a child process
 * connects them while this one is blocked waiting for it), then counts, turn by turn, the connections `server`
 * is given. A turn is counted by a check-phase callback, which runs once after each poll.
 */
async function acceptedPerTurn(server: Server, port: number, count: number): Promise<number[]> {
  const sockets: Socket[] = [];
  const perTurn: number[] = [];
  let turn = 0;
  server.on('connection', (socket: Socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    perTurn[turn] = (perTurn[turn] ?? 0) + 1;
  });
  execFileSync(process.execPath, [
    '-e',
    `const net = require('node:net'); let open = 0;
     for (let i = 0; i < ${count}; i++) net.connect(${port}, '127.0.0.1', () => { if (++open === ${count}) process.exit(0); }).on('error', (e) => { console.error(e.message); process.exit(1); });`,
  ]);
  await new Promise<void>((resolve) => {
    const next = (): void => {
      if (sockets.length >= count) {
        resolve();
        return;
      }
      turn++;
      setImmediate(next);
    };
    setImmediate(next);
  });
  for (const socket of sockets) socket.destroy();
  return perTurn.filter((n) => n !== undefined);
}

describe('accepts per turn of the event loop', () => {
  it('one listening descriptor takes one queued connection per turn', async () => {
    const server = createServer();
    try {
      const port = await listen(server);
      assert.deepEqual(await acceptedPerTurn(server, port, QUEUED), new Array(QUEUED).fill(1));
    } finally {
      server.close();
    }
  });

  it('with 7 copies, 8 descriptors take the 40 queued connections in 5 turns of 8, all given to the original server', async () => {
    const server = createServer();
    let copies: Server[] = [];
    try {
      const port = await listen(server);
      copies = await copyListener(server, 7, 4096);
      assert.equal(copies.length, 7);
      assert.equal(listeningDescriptors(process.pid, port), 8);
      assert.deepEqual(await acceptedPerTurn(server, port, QUEUED), [8, 8, 8, 8, 8]);
    } finally {
      for (const copy of copies) copy.close();
      server.close();
    }
  });
});

describe('the gateway with copies of its listening socket', () => {
  it('listens on 64 descriptors by default; stopAccepting closes all of them and new connections are refused', async () => {
    const g = await startGateway();
    try {
      assert.equal(listeningDescriptors(process.pid, g.port), 64);
      g.gateway.stopAccepting();
      // A copy left open would keep the socket listening and its connections accepted.
      await waitUntil(() => listeningDescriptors(process.pid, g.port) === 0, 2000, 'every listening descriptor closed');
      const outcome = await OcppClient.tryConnect(g.url, 'AFTER-STOP', ['ocpp1.6']);
      assert.equal(outcome.ok, false);
    } finally {
      await g.stop();
    }
  });

  it('the real process: ACCEPTS_PER_TURN=16 gives 16 descriptors, and 300 chargers connecting at once all boot', async () => {
    const proc = await startServerProcess({ env: { ACCEPTS_PER_TURN: '16' } });
    const clients: OcppClient[] = [];
    try {
      assert.equal(listeningDescriptors(proc.child.pid as number, proc.port), 16);
      const connecting = Array.from({ length: 300 }, (_, i) => OcppClient.connect(`${proc.url}/ocpp`, `COPY-${i}`, ['ocpp1.6']));
      clients.push(...(await Promise.all(connecting)));
      const boots = await Promise.all(clients.map((client) => client.call('BootNotification', bootPayload('ocpp1.6'))));
      for (const boot of boots) assert.equal((expectResult(boot) as { status?: string }).status, 'Accepted');
    } finally {
      for (const client of clients) client.terminate();
      await proc.stop();
    }
  });

  it('ACCEPTS_PER_TURN=1: one descriptor, no copies', async () => {
    const proc = await startServerProcess({ env: { ACCEPTS_PER_TURN: '1' } });
    try {
      assert.equal(listeningDescriptors(proc.child.pid as number, proc.port), 1);
    } finally {
      await proc.stop();
    }
  });

  it('ACCEPTS_PER_TURN=0: exits non-zero with one line naming server.acceptsPerTurn', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { ACCEPTS_PER_TURN: '0' } });
    assert.ok(code !== 0 && code !== null);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /server\.acceptsPerTurn \(ACCEPTS_PER_TURN\)/);
  });
});
