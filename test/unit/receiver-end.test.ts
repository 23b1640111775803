import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { makeRepeatedReceiverEndFree } from '../../src/transport/receiver-end.js';

/**
 * What the hook saves (an error built and dropped) cannot be seen from outside, only in a profile; what can be checked
 * is what it relies on and what it must not change. It is worth its place only while ws keeps a Writable receiver
 * under `_receiver` and ends it twice when a peer goes away; both are checked against the ws this project installs, so
 * an upgrade that changes either fails here instead of leaving the hook idle. Every other call must stay Node's own.
 */
test("ws ends a peer-closed connection's receiver twice; the first end and any call with a callback stay Node's", async () => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  try {
    const accepted = once(server, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const [ws] = (await accepted) as [WebSocket];
    if (client.readyState !== WebSocket.OPEN) await once(client, 'open');
    const receiver = (ws as unknown as { _receiver: unknown })._receiver;
    assert.ok(receiver instanceof Writable, 'ws keeps its receiver as a Writable under _receiver');

    makeRepeatedReceiverEndFree(ws);
    const hooked = receiver.end;
    const ends: { ended: boolean; returned: unknown }[] = [];
    receiver.end = function countedEnd(this: Writable, ...args: unknown[]) {
      const ended = this.writableEnded;
      const returned = (hooked as (...a: unknown[]) => unknown).apply(this, args);
      ends.push({ ended, returned });
      return returned;
    } as Writable['end'];

    client.terminate();
    await once(ws, 'close');
    assert.equal(ends.length, 2, 'ws ends the receiver on the end of stream and again on close');
    assert.deepEqual(
      ends.map((e) => e.ended),
      [false, true],
    );
    assert.equal(receiver.writableEnded, true, 'the first end went through to Node');
    assert.equal(ends[1]?.returned, receiver, 'the second end returns the receiver, as Node does');

    // A caller that asks to hear about it still gets Node's own answer.
    const [error] = await new Promise<[Error & { code?: string }]>((resolve) => receiver.end((err?: Error | null) => resolve([err as Error & { code?: string }])));
    assert.equal(error.code, 'ERR_STREAM_ALREADY_FINISHED');
  } finally {
    server.close();
  }
});
