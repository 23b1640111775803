import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { latencyOf } from '../../bench/commands.js';
import { everyRoundCheck, medianRound, type RoundOutcome, type RoundsRecord, roundOrder, type TargetResult } from '../../bench/results.js';
import { type ServicesSnapshot, servicesFigures } from '../../bench/services.js';
import { writeBenchmarksMd } from '../../bench/summary.js';
import { REPO_ROOT, type TargetKind } from '../../bench/targets.js';

describe('benchmark: figures of the cluster services', () => {
  it('turns two snapshots into events/s, bytes per event, Redis commands/s and the commands run in between', () => {
    const before: ServicesSnapshot = {
      atMs: 10_000,
      stream: { name: 'OCPP_EVENTS', messages: 1_000, bytes: 600_000 },
      redis: { keys: 2, usedMemoryBytes: 1_048_576, commandsProcessed: 500, commandCalls: { evalsha: 10, info: 3 } },
    };
    const loaded: ServicesSnapshot = {
      atMs: 20_000,
      stream: { name: 'OCPP_EVENTS', messages: 5_000, bytes: 3_500_000 },
      redis: { keys: 2_002, usedMemoryBytes: 3_145_728, commandsProcessed: 10_500, commandCalls: { evalsha: 1_010, info: 3, pexpire: 2_000 } },
    };
    assert.deepEqual(servicesFigures(before, loaded), {
      stream: { name: 'OCPP_EVENTS', messages: 5_000, bytes: 3_500_000, bytesPerEvent: 700, eventsPerSec: 400 },
      redis: { keysLoaded: 2_002, usedMemoryBeforeMB: 1, usedMemoryLoadedMB: 3, commandsPerSec: 1_000, commandCalls: { evalsha: 1_000, pexpire: 2_000 } },
    });
  });

  it('leaves out what could not be read', () => {
    const none: ServicesSnapshot = { atMs: 0, stream: null, redis: null };
    assert.deepEqual(servicesFigures(none, { ...none, atMs: 1000 }), { stream: null, redis: null });
  });
});

describe('benchmark: command round-trip percentiles', () => {
  it('takes the nearest rank of the sorted samples', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1, unsorted on purpose
    assert.deepEqual(latencyOf(samples), { count: 100, p50: 50, p90: 90, p99: 99, p999: 100, max: 100 });
  });

  it('is all zeros without samples', () => {
    assert.deepEqual(latencyOf([]), { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
  });
});

describe('benchmark: BENCHMARKS.md from the results folder', () => {
  const results = join(REPO_ROOT, 'bench', 'results');
  const CORE_FULL = '2026-11-27T23-37-16Z-full.json';
  const CORE_QUICK = '2026-11-27T23-28-07Z-quick.json';
  const CLUSTER_QUICK = '2026-12-01T15-51-06Z-quick.json';
  const TLS_STORM_QUICK = '2026-12-01T17-36-04Z-quick.json';

  function render(files: string[], extra: Record<string, unknown> = {}): string {
    const dir = mkdtempSync(join(tmpdir(), 'bench-summary-'));
    try {
      for (const f of files) copyFileSync(join(results, f), join(dir, f));
      for (const [name, run] of Object.entries(extra)) writeFileSync(join(dir, name), JSON.stringify(run));
      const out = join(dir, 'BENCHMARKS.md');
      writeBenchmarksMd(dir, out);
      return readFileSync(out, 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('leads with the newest run of scenarios a-e and shows a later run of the cluster scenarios in a section of its own', () => {
    const text = render([CORE_FULL, CORE_QUICK, CLUSTER_QUICK]);
    const headings = text.split('\n').filter((l) => l.startsWith('## '));
    assert.deepEqual(headings, ['## Latest full run', '## Latest quick run', '## Quick run of scenario (f), (g), (h)', '## Method']);
    const quickSection = text.slice(text.indexOf('## Latest quick run'), text.indexOf('## Quick run of scenario'));
    assert.ok(quickSection.includes(`- Results: \`bench/results/${CORE_QUICK}\``));
    const clusterSection = text.slice(text.indexOf('## Quick run of scenario'), text.indexOf('## Method'));
    assert.ok(clusterSection.includes(`- Results: \`bench/results/${CLUSTER_QUICK}\``));
  });

  it('leaves out a newer run made with settings of its own (--gateway-env)', () => {
    const core = JSON.parse(readFileSync(join(results, CORE_FULL), 'utf8')) as Record<string, unknown>;
    const withSettings = { ...core, startedAt: '2030-01-01T00:00:00.000Z', gatewayEnv: { ADMISSION_MAX_HANDSHAKES: '8192' } };
    const text = render([CORE_FULL], { '2030-01-01T00-00-00Z-full.json': withSettings });
    assert.ok(text.includes(`- Results: \`bench/results/${CORE_FULL}\``));
    assert.ok(!text.includes('2030-01-01T00-00-00Z-full.json'));
    // The same run without the settings is the newest and leads.
    const plain = render([CORE_FULL], { '2030-01-01T00-00-00Z-full.json': { ...withSettings, gatewayEnv: undefined } });
    assert.ok(plain.includes('- Results: `bench/results/2030-01-01T00-00-00Z-full.json`'));
  });

  it('keeps the baseline/gateway table of a-e, and gives (g) a column per target and (h) a row per place', () => {
    const text = render([CORE_FULL, CORE_QUICK, CLUSTER_QUICK]);
    const lines = text.split('\n');
    const after = (heading: string, n: number): string[] => {
      const i = lines.findIndex((l) => l.startsWith(heading));
      assert.ok(i >= 0, `no ${heading}`);
      return lines.slice(i + 2, i + 2 + n);
    };
    assert.deepEqual(after('### (a) ', 2), ['| | baseline | gateway | gateway / baseline |', '|---|---|---|---|']);
    assert.deepEqual(after('### (g) ', 2), ['| | baseline | gateway, embedded bus | gateway, cluster mode |', '|---|---|---|---|']);
    assert.deepEqual(after('### (h) ', 5), [
      '| charger | chargers | completed / sent | round trip p50 / p90 / p99 / max, ms | failed (HTTP status: count) | forwards counted by A |',
      '|---|---|---|---|---|---|',
      '| embedded | 5 | 50 / 50 | 1.75 / 2.08 / 4.56 / 4.6 | 0 | - |',
      '| same instance | 5 | 50 / 50 | 1.91 / 2.55 / 4.56 / 4.6 | 0 | - |',
      '| other instance | 5 | 50 / 50 | 3.91 / 4.95 / 6.4 / 6.4 | 0 | forwarded 50 |',
    ]);
  });
  it('shows the TLS storm (i) in a section of its own, plain ws and TLS side by side with their ratio', () => {
    const text = render([CORE_FULL, CORE_QUICK, CLUSTER_QUICK, TLS_STORM_QUICK]);
    const headings = text.split('\n').filter((l) => l.startsWith('## '));
    assert.deepEqual(headings, ['## Latest full run', '## Latest quick run', '## Quick run of scenario (f), (g), (h)', '## Quick run of scenario (i)', '## Method']);
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.startsWith('### (i) '));
    assert.ok(i >= 0, 'no (i) table');
    assert.deepEqual(lines.slice(i + 2, i + 4), ['| | gateway, plain ws (profile 0) | gateway, TLS + Basic auth (profile 2) | TLS / plain |', '|---|---|---|---|']);
    const row = (label: string): string | undefined => lines.slice(i).find((l) => l.startsWith(`| ${label} |`));
    assert.equal(
      row('storm: all booted again after'),
      '| storm: all booted again after | 8.724 s (6000/6000, drop at 25.193 s) | 22.561 s (6000/6000, drop at 287.65 s) | 2.59x |',
    );
    assert.match(row('storm handshake p50 / p99 / p99.9 / max, ms (handshakes)') ?? '', /\| 2\.47x \/ 3\.07x \|$/);
    assert.equal(row('gateway: upgrade attempts by outcome'), '| gateway: upgrade attempts by outcome | accepted 12000 | accepted 12000 |  |');
  });
});

describe('benchmark: scenarios run in rounds', () => {
  // Only the fields the round measures read; the rest of a result does not enter the choice.
  const flood = (kind: TargetKind, perCore: number, bottleneck = false): TargetResult =>
    ({ kind, msgsPerSecPerCore: perCore, simulator: { bottleneck, notes: [], workerCpuPct: [], workerLoopDelayP99Ms: [] }, storm: null }) as unknown as TargetResult;
  const storm = (kind: TargetKind, sec: number | null): TargetResult =>
    ({
      kind,
      msgsPerSecPerCore: null,
      simulator: { bottleneck: false, notes: [], workerCpuPct: [], workerLoopDelayP99Ms: [] },
      storm: { allRebootedAfterSec: sec },
    }) as unknown as TargetResult;

  it('rotates the order so that every target takes every place once', () => {
    const runs = ['baseline', 'peer', 'gateway'];
    assert.deepEqual(
      [0, 1, 2].map((r) => roundOrder(runs, r)),
      [
        ['baseline', 'peer', 'gateway'],
        ['peer', 'gateway', 'baseline'],
        ['gateway', 'baseline', 'peer'],
      ],
    );
    assert.deepEqual(roundOrder(['baseline', 'gateway'], 3), ['gateway', 'baseline']);
  });

  it('reports the median round of messages per core-second', () => {
    const rounds = [flood('gateway', 41_000), flood('gateway', 52_000), flood('gateway', 47_000)];
    assert.equal(medianRound(rounds, 'perCore'), rounds[2]);
  });

  it('counts a round the simulator held back as the worst, and takes the worse middle of an even count', () => {
    const rounds = [flood('gateway', 90_000, true), flood('gateway', 52_000), flood('gateway', 47_000)];
    assert.equal(medianRound(rounds, 'perCore'), rounds[2]);
    assert.equal(medianRound([rounds[1], rounds[2]], 'perCore'), rounds[2]);
  });

  it('fails the guarantees when any round lost a charger, a CALL or closed on one, not only the median round', () => {
    const ok: RoundOutcome = { held: true, answered: true, unexpectedCloses: 0 };
    const record = (third: RoundOutcome): RoundsRecord => ({
      measure: 'stormSec',
      rounds: [
        { order: ['baseline', 'gateway'], figures: { baseline: 7.9, gateway: 24.9 }, outcomes: { baseline: ok, gateway: ok } },
        { order: ['gateway', 'baseline'], figures: { baseline: 7.2, gateway: 17.6 }, outcomes: { baseline: ok, gateway: ok } },
        { order: ['baseline', 'gateway'], figures: { baseline: 7.0, gateway: 10.0 }, outcomes: { baseline: ok, gateway: third } },
      ],
    });
    const pass = everyRoundCheck(record(ok), 'gateway');
    assert.equal(pass.pass, true);
    assert.equal(pass.value, '3 of 3 rounds');
    const fail = everyRoundCheck(record({ held: true, answered: true, unexpectedCloses: 213 }), 'gateway');
    assert.equal(fail.pass, false);
    assert.equal(fail.value, 'round 3: 213 unexpected closes');
    // Where the round recorded its close codes, the failure names them: a round that is not the median one is
    // otherwise kept only as its figure.
    const withCodes = everyRoundCheck(record({ held: true, answered: true, unexpectedCloses: 112, unexpectedClosesByCode: { '4000': 110, '1006': 2 } }), 'gateway');
    assert.equal(withCodes.value, 'round 3: 112 unexpected closes (by code 4000: 110, 1006: 2)');
    // A record without outcomes (the first runs with rounds) proves nothing: not a pass.
    const unknown = everyRoundCheck({ measure: 'stormSec', rounds: [{ order: ['gateway'], figures: { gateway: 9 } }] }, 'gateway');
    assert.equal(unknown.pass, false);
    assert.equal(unknown.value, null);
  });

  it('reports the median storm, a storm in which not every charger came back counting as the slowest', () => {
    const rounds = [storm('gateway', 9.9), storm('gateway', null), storm('gateway', 7.5)];
    assert.equal(medianRound(rounds, 'stormSec'), rounds[0]);
    assert.equal(medianRound([storm('baseline', 8.1), storm('baseline', 7.2), storm('baseline', 12.4)], 'stormSec')?.storm?.allRebootedAfterSec, 8.1);
    assert.equal(medianRound([], 'stormSec'), null);
  });

  it('reports the median steady p99, a round without steady CALLs counting as the slowest', () => {
    const steady = (p99: number, count = 700_000): TargetResult =>
      ({ kind: 'gateway', steadyLatencyMs: { count, p50: 0.3, p90: 0.7, p99, p999: 30, max: 70 } }) as unknown as TargetResult;
    const rounds = [steady(20.2), steady(9.8), steady(14.1)];
    assert.equal(medianRound(rounds, 'steadyP99'), rounds[2]);
    // A round whose steady load never began (count 0, p99 0) must not pass for the fastest.
    const none = steady(0, 0);
    assert.equal(medianRound([none, rounds[1], rounds[2]], 'steadyP99'), rounds[2]);
  });
});
