/**
 * `npm run bench:instructions` end to end on one server: the raw responder runs under valgrind's callgrind, real
 * chargers do a fixed amount of work on it, and the counts bracketed around the flood must follow the work, not
 * the start-up or the clock: three times the CALLs, about three times the instructions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CallgrindControl, callgrindAvailable, callgrindLauncher, readCallgrindTotals } from '../bench/callgrind.js';
import { makeScripts, netOfIdle, pass, STRETCHES } from '../bench/instructions.js';
import { startTarget, type Target } from '../bench/targets.js';

const inCi = process.env.CI === 'true';

async function skipReason(): Promise<string | false> {
  if (await callgrindAvailable()) return false;
  const reason = 'valgrind (with callgrind_control) is not installed';
  if (inCi) throw new Error(`${reason}; CI=true requires it for the instruction-count benchmark's test`);
  return `${reason} (apt-get install valgrind to run this test)`;
}

const skip = await skipReason();

describe('bench:instructions counts the work it brackets', { skip, timeout: 240_000 }, () => {
  const outDir = mkdtempSync(join(tmpdir(), 'test-callgrind-'));
  let target: Target;
  let control: CallgrindControl;

  before(async () => {
    target = await startTarget('baseline', { launcher: callgrindLauncher(outDir, { l1Bytes: 32 * 1024, llBytes: 1024 * 1024 }), timeoutMs: 120_000 });
    control = new CallgrindControl(target.pid, outDir);
  });

  after(async () => {
    await target?.stop(10_000);
    rmSync(outDir, { recursive: true, force: true });
  });

  it('counts three times the instructions for three times the CALLs, with every stretch counted apart', async () => {
    const chargers = 40;
    // Warm-up: the counts of code V8 has not optimised yet run high and fall pass by pass.
    for (let i = 0; i < 2; i++) await pass(target, control, makeScripts({ chargers, callsPerCharger: 150 }));
    const short = await pass(target, control, makeScripts({ chargers, callsPerCharger: 10 }));
    const long = await pass(target, control, makeScripts({ chargers, callsPerCharger: 30 }));
    const ratio = long.counts.flood.Ir / short.counts.flood.Ir;
    assert.ok(ratio > 2.4 && ratio < 3.6, `flood instructions for 1,200 against 400 CALLs: ${ratio.toFixed(2)}x, expected about 3x`);
    // The same chargers connect and close in both passes, so those stretches do not grow with the CALLs.
    const connect = long.counts.connect.Ir / short.counts.connect.Ir;
    assert.ok(connect > 0.6 && connect < 1.6, `connect instructions, same work in both passes: ${connect.toFixed(2)}x`);
    // So does the trickle: one CALL per charger, sent one at a time.
    const trickle = netOfIdle(long).Ir / netOfIdle(short).Ir;
    assert.ok(trickle > 0.6 && trickle < 1.6, `trickle instructions net of idle, same work in both passes: ${trickle.toFixed(2)}x`);
    for (const counts of Object.values(short.counts)) assert.ok(counts.I1mr > 0 && counts.D1mr > 0, 'the cache is simulated');
  });

  it('takes from the trickle what the idle stretch counted over the same time on the clock', () => {
    const counted = { Ir: 10_000, D1mr: 50 };
    const net = netOfIdle({
      counts: { connect: {}, flood: {}, trickle: counted, idle: { Ir: 3_000, D1mr: 100 }, close: {} },
      wallMs: { connect: 0, flood: 0, trickle: 2_000, idle: 3_000, close: 0 },
    });
    // Two seconds of trickle hold two thirds of the three idle seconds' 3,000 instructions; misses never go below 0.
    assert.deepEqual(net, { Ir: 8_000, D1mr: 0 });
  });

  it("keeps each stretch's dump where it is told to (--keep-dumps), with the counts it reported", async () => {
    const keepDir = mkdtempSync(join(tmpdir(), 'test-callgrind-kept-'));
    try {
      const { counts } = await pass(target, control, makeScripts({ chargers: 10, callsPerCharger: 5 }), (stretch) => join(keepDir, `raw-${stretch}.callgrind`), 1);
      for (const stretch of STRETCHES) {
        const kept = readCallgrindTotals(readFileSync(join(keepDir, `raw-${stretch}.callgrind`), 'utf8'));
        assert.deepEqual(kept, counts[stretch], `the kept ${stretch} dump holds the reported counts`);
      }
    } finally {
      rmSync(keepDir, { recursive: true, force: true });
    }
  });
});
