/**
 * The benchmark's peer baseline (an ocpp-rpc server in strict mode, which checks its own answers against the OCPP
 * schemas) as a real process, driven by the simulator: every CALL of the session script (OCPP 1.6 and 2.0.1) and of
 * the flood's `--mix` must get a CALLRESULT, never a CALLERROR. A CALLERROR here would mean one of the peer's fixed
 * answers is not schema-valid, and the benchmark would be comparing the gateway with a server that answers errors.
 * Only outcomes and counts are asserted, never timings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTarget, type Target } from '../bench/targets.js';
import { runSimulation } from '../src/sim/index.js';
import { parseMix } from '../src/sim/options.js';

describe('peer baseline (ocpp-rpc, strict mode) under the simulator', () => {
  let target: Target;
  before(async () => {
    target = await startTarget('peer');
  });
  after(async () => {
    await target?.stop(5000);
  });

  it('answers every CALL of the session script in OCPP 1.6 and 2.0.1 with a CALLRESULT', async () => {
    const report = await runSimulation({
      url: target.url,
      chargers: 20,
      protocol: 'mix',
      durationSec: 4,
      drainSec: 3,
      workers: 0,
      flood: true,
      // Short sessions, so that every step of the script (StartTransaction, StopTransaction, TransactionEvent Ended) comes round.
      meterValuesPerSession: 1,
      heartbeatsBetweenSessions: 1,
    });
    const k = report.calls;
    assert.equal(k.callErrors, 0, `CALLERRORs: ${JSON.stringify(k.callErrorsByCode)}`);
    assert.equal(k.timedOut, 0);
    assert.equal(k.answered, k.sent);
    for (const action of ['BootNotification', 'StatusNotification', 'Heartbeat', 'Authorize', 'StartTransaction', 'MeterValues', 'StopTransaction', 'TransactionEvent']) {
      assert.ok((k.byAction[action] ?? 0) > 0, `no ${action} was sent: ${JSON.stringify(k.byAction)}`);
    }
    assert.equal(report.connections.unexpectedCloses, 0);
    assert.ok(target.alive());
  });

  it('answers the flood mix (OCPP 1.6): only the mixed actions are sent after the boot, every one answered', async () => {
    const report = await runSimulation({
      url: target.url,
      chargers: 20,
      protocol: '1.6',
      durationSec: 3,
      drainSec: 3,
      workers: 0,
      flood: true,
      mix: 'MeterValues:60,Heartbeat:25,StatusNotification:15',
    });
    const k = report.calls;
    assert.equal(k.callErrors, 0, `CALLERRORs: ${JSON.stringify(k.callErrorsByCode)}`);
    assert.equal(k.answered, k.sent);
    assert.deepEqual(Object.keys(k.byAction).sort(), ['BootNotification', 'Heartbeat', 'MeterValues', 'StatusNotification']);
    // The boot sends one BootNotification per charger; everything after it comes from the mix.
    assert.equal(k.byAction.BootNotification, 20);
    assert.ok(k.byAction.MeterValues > k.byAction.Heartbeat, JSON.stringify(k.byAction));
  });
});

describe('--mix', () => {
  it('reads Action:weight pairs into cumulative weights', () => {
    assert.deepEqual(parseMix('MeterValues:60,Heartbeat:25,StatusNotification:15'), [
      { action: 'MeterValues', upTo: 60 },
      { action: 'Heartbeat', upTo: 85 },
      { action: 'StatusNotification', upTo: 100 },
    ]);
  });

  it('refuses an action a charger does not send unprompted, a missing weight and a zero weight', () => {
    assert.throws(() => parseMix('MeterValues:60,RemoteStartTransaction:40'), /RemoteStartTransaction is not one of MeterValues, Heartbeat, StatusNotification/);
    assert.throws(() => parseMix('MeterValues'), /expected Action:weight, got "MeterValues"/);
    assert.throws(() => parseMix('Heartbeat:0'), /the weight of Heartbeat must be > 0/);
  });
});
