import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MAX_TRANSACTION_ID, TransactionIdAllocator, TransactionIdsExhaustedError } from '../../src/gateway/transaction-ids.js';

const run = promisify(execFile);
const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'txids-'));
  dirs.push(dir);
  return dir;
}

async function take(allocator: TransactionIdAllocator, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(await allocator.next());
  return ids;
}

function readMarkSync(dir: string): number {
  return (JSON.parse(readFileSync(join(dir, 'transaction-ids.json'), 'utf8')) as { reservedThrough: number }).reservedThrough;
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function assertInRange(ids: number[]): void {
  for (const id of ids) assert.ok(Number.isInteger(id) && id >= 1 && id <= MAX_TRANSACTION_ID, String(id));
}

after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('TransactionIdAllocator', () => {
  it('starts at 1 and counts up within a block', async () => {
    const allocator = await TransactionIdAllocator.open(await freshDir(), 100);
    assert.deepEqual(await take(allocator, 5), [1, 2, 3, 4, 5]);
    await allocator.close();
  });

  it('never hands out an id before the mark covering it is on disk', async () => {
    const dir = await freshDir();
    const allocator = await TransactionIdAllocator.open(dir, 10);
    for (let i = 0; i < 35; i++) {
      const id = await allocator.next();
      const state = JSON.parse(await readFile(join(dir, 'transaction-ids.json'), 'utf8'));
      assert.ok(state.reservedThrough >= id, `id ${id} handed out above stored mark ${state.reservedThrough}`);
    }
    await allocator.close();
  });

  it('hands out ids synchronously while reserved ones last; only a caller finding none left waits', async () => {
    const dir = await freshDir();
    const allocator = await TransactionIdAllocator.open(dir, 10);
    // Opening reserved the first block and the one after it: twenty ids without a tick in between.
    const sync = Array.from({ length: 20 }, () => allocator.next());
    assert.deepEqual(
      sync,
      Array.from({ length: 20 }, (_, i) => i + 1),
      'plain numbers, no promise',
    );
    assert.ok(readMarkSync(dir) >= 20, 'every id handed out was covered by the mark on disk');
    const waited = allocator.next();
    assert.ok(waited instanceof Promise, 'the 21st, asked for in the same tick, waits for the next block');
    assert.equal(await waited, 21);
    assert.ok(readMarkSync(dir) >= 21);
    await allocator.close();
  });

  it('reserves the next block in the background as soon as the spare one comes into use', async () => {
    const dir = await freshDir();
    const allocator = await TransactionIdAllocator.open(dir, 10);
    for (let i = 1; i <= 11; i++) assert.equal(allocator.next(), i);
    // Id 11 opened the spare block: the one after it (21..30) is being reserved without anyone waiting for it.
    await waitFor(() => allocator.idsAtHand === 19, 'the next block to be reserved');
    assert.ok(readMarkSync(dir) >= 30, 'the block is durable before any of its ids is at hand');
    for (let i = 12; i <= 30; i++) assert.equal(allocator.next(), i, `id ${i} without waiting`);
    await allocator.close();
  });

  it('two allocators opened one after the other never overlap', async () => {
    const dir = await freshDir();
    const first = await TransactionIdAllocator.open(dir, 10);
    const a = await take(first, 25);
    await first.close();
    const second = await TransactionIdAllocator.open(dir, 10);
    const b = await take(second, 25);
    await second.close();
    assertInRange([...a, ...b]);
    assert.equal(new Set([...a, ...b]).size, 50);
    assert.ok(Math.min(...b) > Math.max(...a));
  });

  it('a restart after a crash (no close) never reuses an id', async () => {
    const dir = await freshDir();
    const moduleUrl = new URL('../../src/gateway/transaction-ids.js', import.meta.url).href;
    // The child takes some ids and exits abruptly, without close().
    const script =
      `const { TransactionIdAllocator } = await import(${JSON.stringify(moduleUrl)});` +
      `const a = await TransactionIdAllocator.open(${JSON.stringify(dir)}, 100);` +
      `const ids = []; for (let i = 0; i < 7; i++) ids.push(await a.next());` +
      `process.stdout.write(JSON.stringify(ids)); process.exit(0);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    });
    const crashed: number[] = JSON.parse(stdout);
    assert.deepEqual(crashed, [1, 2, 3, 4, 5, 6, 7]);

    const restarted = await TransactionIdAllocator.open(dir, 100);
    const next = await take(restarted, 5);
    await restarted.close();
    assert.ok(Math.min(...next) > Math.max(...crashed), `${next} overlaps ${crashed}`);
  });

  it('gives 5000 concurrent callers 5000 distinct ids, across many block reservations', async () => {
    const allocator = await TransactionIdAllocator.open(await freshDir(), 100);
    const ids = await Promise.all(Array.from({ length: 5000 }, () => allocator.next()));
    await allocator.close();
    assertInRange(ids);
    assert.equal(new Set(ids).size, 5000);
  });

  it('stops with a clear error at the top of the 32-bit range, also after a restart', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'transaction-ids.json'), JSON.stringify({ reservedThrough: MAX_TRANSACTION_ID - 3 }));
    const allocator = await TransactionIdAllocator.open(dir, 2);
    assert.deepEqual(await take(allocator, 3), [MAX_TRANSACTION_ID - 2, MAX_TRANSACTION_ID - 1, MAX_TRANSACTION_ID]);
    await assert.rejects(async () => allocator.next(), TransactionIdsExhaustedError);
    await assert.rejects(async () => allocator.next(), /never reused/);
    await allocator.close();

    const reopened = await TransactionIdAllocator.open(dir, 2);
    await assert.rejects(async () => reopened.next(), TransactionIdsExhaustedError);
    await reopened.close();
  });

  it('refuses a corrupt state file rather than guess', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'transaction-ids.json'), '{"reservedThrough": "lots"}');
    await assert.rejects(TransactionIdAllocator.open(dir), /unreadable/);
    await writeFile(join(dir, 'transaction-ids.json'), 'not json');
    await assert.rejects(TransactionIdAllocator.open(dir), /unreadable/);
  });

  it('refuses a second allocator on the same state in one process', async () => {
    const dir = await freshDir();
    const first = await TransactionIdAllocator.open(dir);
    await assert.rejects(TransactionIdAllocator.open(dir), /already open/);
    await first.close();
    const second = await TransactionIdAllocator.open(dir);
    await second.close();
  });

  it('refuses to hand out ids once closed, and rejects bad block sizes', async () => {
    const dir = await freshDir();
    const allocator = await TransactionIdAllocator.open(dir, 10);
    await allocator.next();
    await allocator.close();
    await assert.rejects(async () => allocator.next(), /closed/);
    await assert.rejects(TransactionIdAllocator.open(dir, 0), RangeError);
    await assert.rejects(TransactionIdAllocator.open(dir, 1.5), RangeError);
  });

  it('creates a missing state directory', async () => {
    const dir = join(await freshDir(), 'nested', 'data');
    const allocator = await TransactionIdAllocator.open(dir, 10);
    assert.equal(await allocator.next(), 1);
    await allocator.close();
  });
});
