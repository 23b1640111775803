/**
 * Load smoke test for CI: the real gateway process (default configuration: strict schema validation,
 * events on the embedded bus) holds 2,000 simulated chargers of both OCPP versions for 30 s, every
 * one connected to the end and every CALL answered with a CALLRESULT. Outcomes only: no timing or
 * latency assertion, so a slow or busy machine cannot make it flaky. The full benchmark is
 * `npm run bench`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runSimulation } from '../src/sim/index.js';
import { type ServerProcess, startServerProcess } from './helpers/gateway-harness.js';

const CHARGERS = 2000;

describe('load smoke: 2,000 chargers against the real gateway process', () => {
  let server: ServerProcess | undefined;
  before(async () => {
    server = await startServerProcess();
  });
  after(async () => {
    await server?.stop();
  });

  it('connects every charger, keeps it connected and answers every CALL', { timeout: 100_000 }, async () => {
    const report = await runSimulation({
      url: `${server!.url}/ocpp`,
      chargers: CHARGERS,
      protocol: 'mix',
      durationSec: 30,
      drainSec: 10,
      workers: 2,
      serverPid: server!.child.pid,
    });
    const c = report.connections;
    const k = report.calls;
    const detail = `failures: ${report.failures.join('; ') || 'none'}`;
    assert.equal(c.attempted, CHARGERS, detail);
    assert.equal(c.opened, CHARGERS, detail);
    assert.equal(c.failed, 0, detail);
    assert.equal(c.everConnected, CHARGERS, detail);
    assert.equal(c.booted, CHARGERS, detail);
    assert.equal(c.openAtEnd, CHARGERS, detail);
    assert.equal(c.unexpectedCloses, 0, `unexpected closes by code: ${JSON.stringify(c.unexpectedClosesByCode)}`);
    assert.ok(k.sent >= CHARGERS * 4, `only ${k.sent} CALLs sent`); // boot and the connectors' statuses at least
    assert.equal(k.answered, k.sent, detail);
    assert.equal(k.callErrors, 0, `CALLERRORs by code: ${JSON.stringify(k.callErrorsByCode)}`);
    assert.equal(k.timedOut, 0, detail);
    assert.equal(k.abortedByClose + k.unansweredAtEnd, 0, detail);
    // Both versions got into their sessions (1,000 chargers each, about 6 CALLs a minute).
    for (const action of ['BootNotification', 'StatusNotification', 'Heartbeat', 'Authorize', 'StartTransaction', 'TransactionEvent']) {
      assert.ok((k.byAction[action] ?? 0) > 0, `no ${action} sent`);
    }
    assert.ok(report.server && !report.server.gone, 'the gateway process went away');
    assert.equal(report.passed, true, detail);
  });
});
