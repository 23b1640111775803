/** `npm run bench -- --rounds N`: more rounds for the scenarios that run in rounds, so their median steadies. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_ROUNDS, parseRounds, plan } from '../../bench/scenarios.js';

describe('bench --rounds', () => {
  it('takes an odd whole number up to the maximum, and nothing without the option', () => {
    assert.equal(parseRounds(undefined), undefined);
    assert.equal(parseRounds('1'), 1);
    assert.equal(parseRounds('5'), 5);
    assert.equal(parseRounds(String(MAX_ROUNDS)), MAX_ROUNDS);
  });

  it('refuses an even count, zero, too many, fractions, signs and words, naming the value', () => {
    for (const bad of ['0', '2', '4', String(MAX_ROUNDS + 1), String(MAX_ROUNDS + 2), '3.0', '2.5', '-3', '+3', 'five', '', ' 3']) {
      assert.throws(() => parseRounds(bad), { name: 'RangeError', message: `--rounds: "${bad}" is not an odd whole number from 1 to ${MAX_ROUNDS}` });
    }
  });

  it('sets the round count of the flood and the storm, and what their descriptions say', () => {
    for (const id of ['c', 'd'] as const) {
      assert.equal(plan(id, 'full').rounds?.count, 3);
      const five = plan(id, 'full', 5);
      assert.equal(five.rounds?.count, 5);
      assert.match(five.description, /in 5 rounds/);
      assert.doesNotMatch(five.description, /in 3 rounds/);
    }
  });

  it('runs the steady loads (a) and (b) in three rounds judged by steady p99, once in the quick run unless told', () => {
    for (const id of ['a', 'b'] as const) {
      assert.deepEqual(plan(id, 'full').rounds, { count: 3, measure: 'steadyP99' });
      assert.match(plan(id, 'full').description, /in 3 rounds/);
      assert.deepEqual(plan(id, 'quick').rounds, { count: 1, measure: 'steadyP99' });
      assert.doesNotMatch(plan(id, 'quick').description, /in 1 rounds/);
      const five = plan(id, 'full', 5);
      assert.deepEqual(five.rounds, { count: 5, measure: 'steadyP99' });
      assert.match(five.description, /in 5 rounds/);
    }
  });

  it('leaves the scenarios that run once as they are', () => {
    assert.equal(plan('e', 'full', 5).rounds, undefined);
    assert.equal(plan('e', 'quick', 5).rounds, undefined);
    assert.equal(plan('f', 'full', 5).rounds, undefined);
  });
});
