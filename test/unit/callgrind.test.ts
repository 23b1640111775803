/** Reading callgrind's counts (bench/callgrind.ts), for `npm run bench:instructions`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimatedCycles, readCallgrindTotals } from '../../bench/callgrind.js';

// The head and tail of a real dump (valgrind 3.19, --cache-sim=yes), with its function records cut out.
const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 9873
cmd:  node /srv/dist/bench/baseline/responder.js --port 9100 --host 127.0.0.1
part: 4

desc: I1 cache: 32768 B, 64 B, 8-way associative
desc: D1 cache: 32768 B, 64 B, 8-way associative
desc: LL cache: 1048576 B, 64 B, 16-way associative

desc: Timerange: Basic block 1024 - 2048
desc: Trigger: Client Request: dump

positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw

summary: 725067597 209813394 97360092 19316357 4724403 1106645 5 5 4021

fn=(1) 0x000000000128c0a0
0 3 1

totals: 725067597 209813394 97360092 19316357 4724403 1106645 5 5 4021
`;

describe('callgrind counts', () => {
  it('reads every event of the totals line by its name', () => {
    assert.deepEqual(readCallgrindTotals(DUMP), {
      Ir: 725067597,
      Dr: 209813394,
      Dw: 97360092,
      I1mr: 19316357,
      D1mr: 4724403,
      D1mw: 1106645,
      ILmr: 5,
      DLmr: 5,
      DLmw: 4021,
    });
  });

  it('counts a trailing event left off the totals line as zero', () => {
    const short = DUMP.replace(/^totals: .*$/m, 'totals: 10 4 2 1 1').replace(/^summary: .*$/m, '');
    assert.deepEqual(readCallgrindTotals(short), { Ir: 10, Dr: 4, Dw: 2, I1mr: 1, D1mr: 1, D1mw: 0, ILmr: 0, DLmr: 0, DLmw: 0 });
  });

  it('takes the summary line when a dump has no totals line', () => {
    assert.equal(readCallgrindTotals(DUMP.replace(/^totals: .*$/m, '')).Ir, 725067597);
  });

  it('refuses text that is not a callgrind dump', () => {
    assert.throws(() => readCallgrindTotals('hello'), /not a callgrind output file/);
    assert.throws(() => readCallgrindTotals('events: Dr\ntotals: 5\n'), /without an instruction count/);
  });

  it('estimates cycles as KCachegrind does: 1 per instruction, 10 per first-level miss, 100 per last-level miss', () => {
    const c = { Ir: 1000, Dr: 400, Dw: 200, I1mr: 3, D1mr: 5, D1mw: 7, ILmr: 1, DLmr: 2, DLmw: 4 };
    assert.equal(estimatedCycles(c), 1000 + 10 * 15 + 100 * 7);
    assert.equal(estimatedCycles({ Ir: 1234 }), 1234);
  });
});
