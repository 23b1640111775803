import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerTurns } from '../../src/ocpp/answer-turns.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

// The tests that share turns have a connection in its handshake (handshakeStarted): that is when turns are shared.

test('a turn answers at most its share in the tick of the read; the rest wait, in order, for the next turns', async () => {
  const turns = new AnswerTurns(4);
  turns.handshakeStarted();
  const ran: number[] = [];
  let turn = 0;
  const ranInTurn: number[] = [];
  for (let i = 0; i < 10; i++) {
    turns.schedule({
      runHeld: () => {
        ran.push(i);
        ranInTurn.push(turn);
      },
    });
  }
  // Nothing runs inside the read itself: every CALL of the read must be held first.
  assert.deepEqual(ran, []);
  await Promise.resolve();
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual(ran, [0, 1, 2, 3], 'the first four in the same turn');
  assert.equal(turns.waitingCount, 6);
  for (turn = 1; turns.waitingCount > 0 && turn < 10; turn++) await nextTurn();
  assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'all of them, first come first served');
  // Four per turn: the waiting six take two more turns' check phases.
  assert.deepEqual(
    ranInTurn.map((t) => Math.min(t, 2)),
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 2],
  );
});

test('a connection arriving while others wait queues behind them, even when the new turn has budget left', async () => {
  const turns = new AnswerTurns(2);
  turns.handshakeStarted();
  const ran: string[] = [];
  for (const name of ['a', 'b', 'c', 'd', 'e']) turns.schedule({ runHeld: () => ran.push(name) });
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual(ran, ['a', 'b']);
  turns.schedule({ runHeld: () => ran.push('late') });
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual(ran, ['a', 'b'], 'no overtaking those that wait');
  while (turns.waitingCount > 0) await nextTurn();
  assert.deepEqual(ran, ['a', 'b', 'c', 'd', 'e', 'late']);
});

test('at a trickle the budget lasts over turns and is renewed only when spent; the CALL beyond it is answered in the same turn', async () => {
  const turns = new AnswerTurns(2);
  turns.handshakeStarted();
  const ran: string[] = [];
  // One CALL per turn, as at 6 CALLs per charger a minute: answered in the tick of its read, no check phase needed.
  turns.schedule({ runHeld: () => ran.push('a') });
  await tick();
  await nextTurn();
  turns.schedule({ runHeld: () => ran.push('b') });
  await tick();
  await nextTurn();
  assert.deepEqual(ran, ['a', 'b']);
  // The two answers spent the budget: the third waits for this turn's check phase, which renews it.
  turns.schedule({ runHeld: () => ran.push('c') });
  await tick();
  assert.deepEqual(ran, ['a', 'b'], 'held past the tick of its read');
  assert.equal(turns.waitingCount, 1);
  await nextTurn();
  assert.deepEqual(ran, ['a', 'b', 'c'], 'answered in the check phase of the same turn');
  assert.equal(turns.waitingCount, 0);
  // Renewed: the next one is answered in the tick of its read again.
  turns.schedule({ runHeld: () => ran.push('d') });
  await tick();
  assert.deepEqual(ran, ['a', 'b', 'c', 'd']);
});

test('inside a read scope the answers wait for the scope to close and then run in it, in order, without a tick', async () => {
  const turns = new AnswerTurns(3);
  turns.handshakeStarted();
  const ran: string[] = [];
  turns.readOpened();
  for (const name of ['a', 'b', 'c', 'd']) turns.schedule({ runHeld: () => ran.push(name) });
  assert.deepEqual([...ran], [], 'nothing runs while the read is delivered');
  turns.readClosed();
  assert.deepEqual([...ran], ['a', 'b', 'c'], 'the turn’s share runs as the read closes');
  assert.equal(turns.waitingCount, 1);
  await nextTurn();
  assert.deepEqual([...ran], ['a', 'b', 'c', 'd'], 'the one beyond the share in the check phase');
  // Outside a scope the tick of the read still answers.
  turns.schedule({ runHeld: () => ran.push('e') });
  assert.deepEqual([...ran], ['a', 'b', 'c', 'd']);
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual([...ran], ['a', 'b', 'c', 'd', 'e']);
  // An empty read runs nothing and leaves no scope open.
  turns.readOpened();
  turns.readClosed();
  turns.schedule({ runHeld: () => ran.push('f') });
  assert.deepEqual([...ran], ['a', 'b', 'c', 'd', 'e'], 'after the scope closed, a CALL is not answered inside its read');
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual([...ran], ['a', 'b', 'c', 'd', 'e', 'f']);
});

test('an answer that throws as a read closes does not cost the other connections of that read their answers', async () => {
  const turns = new AnswerTurns(8);
  turns.handshakeStarted();
  const ran: string[] = [];
  turns.readOpened();
  turns.schedule({ runHeld: () => ran.push('a') });
  turns.schedule({
    runHeld: () => {
      throw new Error('answer failed');
    },
  });
  turns.schedule({ runHeld: () => ran.push('c') });
  assert.throws(() => turns.readClosed(), /answer failed/);
  assert.deepEqual([...ran], ['a']);
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.deepEqual([...ran], ['a', 'c'], 'the rest in a tick of their own');
  // The next read starts with nothing of the last one left to run.
  turns.readOpened();
  turns.schedule({ runHeld: () => ran.push('d') });
  turns.readClosed();
  assert.deepEqual([...ran], ['a', 'c', 'd']);
});

test('a read delivered while a read’s answers run has its answers run once, after those already scheduled', () => {
  const turns = new AnswerTurns(8);
  turns.handshakeStarted();
  const ran: string[] = [];
  turns.readOpened();
  turns.schedule({
    runHeld: () => {
      ran.push('a');
      // Another socket's buffered read passed on from within an answer.
      turns.readOpened();
      turns.schedule({ runHeld: () => ran.push('nested') });
      turns.readClosed();
      assert.deepEqual([...ran], ['a'], 'the nested read does not run answers inside an answer');
    },
  });
  turns.schedule({ runHeld: () => ran.push('b') });
  turns.readClosed();
  assert.deepEqual([...ran], ['a', 'b', 'nested']);
});

test('with no connection in its handshake a turn answers every connection it read, beyond its share', async () => {
  const turns = new AnswerTurns(4);
  const ran: number[] = [];
  for (let i = 0; i < 10; i++) turns.schedule({ runHeld: () => ran.push(i) });
  assert.equal(ran.length, 0, 'still after every CALL of the read is held');
  await tick();
  assert.deepEqual(ran, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(turns.waitingCount, 0);
  // Inside a read scope alike.
  turns.readOpened();
  for (let i = 10; i < 20; i++) turns.schedule({ runHeld: () => ran.push(i) });
  turns.readClosed();
  assert.equal(ran.length, 20);
  assert.equal(turns.waitingCount, 0);
});

test('a handshake starting mid-turn bounds the rest of the turn; a while after every handshake ended, those waiting go in one turn', async () => {
  const HOLD_MS = 30;
  const turns = new AnswerTurns(4, HOLD_MS);
  const ran: string[] = [];
  const schedule = (...names: string[]) => {
    for (const name of names) turns.schedule({ runHeld: () => ran.push(name) });
  };
  // Three answered without a newcomer: the share is spent by them as well, one place is left in this turn.
  schedule('a', 'b', 'c');
  await tick();
  assert.deepEqual(ran, ['a', 'b', 'c']);
  turns.handshakeStarted();
  turns.handshakeStarted();
  assert.equal(turns.handshakesUnderWay, 2);
  schedule('d', 'e', 'f', 'g', 'h', 'i');
  await tick();
  assert.deepEqual(ran, ['a', 'b', 'c', 'd'], 'the one place left');
  assert.equal(turns.waitingCount, 5);
  await nextTurn();
  assert.deepEqual(ran, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 'four in the next turn');
  assert.equal(turns.waitingCount, 1);
  // One handshake ends: another is still under way, turns stay shared.
  turns.handshakeEnded();
  schedule('j', 'k', 'l', 'm');
  assert.equal(turns.waitingCount, 5, 'behind the one waiting: no overtaking');
  // The last one ends: turns stay shared for the hold, for those the count cannot see yet.
  turns.handshakeEnded();
  assert.equal(turns.handshakesUnderWay, 0);
  assert.equal(turns.sharingTurns, true);
  await nextTurn();
  assert.deepEqual(ran.slice(8), ['i', 'j', 'k', 'l'], 'still four a turn');
  schedule('n', 'o', 'p', 'q', 'r', 's');
  assert.equal(turns.waitingCount, 7);
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS + 20));
  assert.equal(turns.sharingTurns, false, 'the hold is over');
  while (turns.waitingCount > 0) await nextTurn();
  assert.deepEqual(ran.slice(12), ['m', 'n', 'o', 'p', 'q', 'r', 's'], 'in order');
  // An end told twice does not make the count negative: the next handshake shares turns again.
  turns.handshakeEnded();
  assert.equal(turns.sharingTurns, false);
  turns.handshakeStarted();
  assert.equal(turns.handshakesUnderWay, 1);
  assert.equal(turns.sharingTurns, true);
});

test('a handshake that starts during the hold keeps turns shared until a hold has passed after it ended', async () => {
  const HOLD_MS = 40;
  const turns = new AnswerTurns(2, HOLD_MS);
  turns.handshakeStarted();
  turns.handshakeEnded();
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2));
  turns.handshakeStarted();
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
  assert.equal(turns.sharingTurns, true, 'under way past the first hold');
  turns.handshakeEnded();
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2));
  assert.equal(turns.sharingTurns, true, 'within the hold after the second ended');
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
  assert.equal(turns.sharingTurns, false);
});

test('a charger that left keeps turns shared for the longer hold, which the short hold of a handshake does not cut', async () => {
  const HOLD_MS = 20;
  const LEFT_HOLD_MS = 400;
  const turns = new AnswerTurns(2, HOLD_MS, LEFT_HOLD_MS);
  const ran: number[] = [];
  const schedule = (from: number, to: number) => {
    for (let i = from; i < to; i++) turns.schedule({ runHeld: () => ran.push(i) });
  };
  assert.equal(turns.sharingTurns, false);
  turns.chargerLeft();
  assert.equal(turns.sharingTurns, true, 'from the moment it left, with no handshake under way');
  schedule(0, 5);
  await tick();
  assert.deepEqual(ran, [0, 1], 'the share of two, the rest wait');
  while (turns.waitingCount > 0) await nextTurn();
  assert.deepEqual(ran, [0, 1, 2, 3, 4]);
  // A handshake (its reconnect, say) starts and ends inside the hold: its short hold ends first.
  turns.handshakeStarted();
  turns.handshakeEnded();
  await new Promise((resolve) => setTimeout(resolve, HOLD_MS * 3));
  assert.equal(turns.sharingTurns, true, "the handshake's hold is over, the charger's is not");
  ran.length = 0;
  schedule(0, 5);
  await tick();
  // The last turn left one place of its share (the budget is renewed only when spent): the rest wait.
  assert.deepEqual(ran, [0], 'still shared');
  assert.equal(turns.waitingCount, 4);
  while (turns.waitingCount > 0) await nextTurn();
  assert.deepEqual(ran, [0, 1, 2, 3, 4], 'those waiting, in order');
  assert.ok(turns.holdLeftMs > 0);
  await new Promise((resolve) => setTimeout(resolve, LEFT_HOLD_MS));
  assert.equal(turns.sharingTurns, false, 'the hold after the charger left is over');
  assert.equal(turns.holdLeftMs, 0);
  ran.length = 0;
  schedule(0, 5);
  await tick();
  assert.deepEqual(ran, [0, 1, 2, 3, 4], 'nobody getting in or expected back: every connection in one turn');
});
