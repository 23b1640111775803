import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartBackoff } from '../../src/workers/restart-backoff.js';

test('a worker dying young waits 1 s, then twice as long each time up to 30 s; one that ran a minute starts over', () => {
  const backoff = new RestartBackoff();
  assert.deepEqual(
    Array.from({ length: 8 }, () => backoff.next(500)),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
  );
  assert.equal(backoff.next(60_000), 1000);
  assert.equal(backoff.next(59_999), 2000);
});
