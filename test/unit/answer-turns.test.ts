import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerTurns } from '../../src/ocpp/answer-turns.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a turn answers at most its share in the tick of the read; the rest wait, in order, for the next turns', async () => {
  const turns = new AnswerTurns(4);
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
