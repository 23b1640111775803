/**
 * Shutdown of the real process (`node dist/src/main.js`) keeps within `shutdown.deadlineMs`: the drain's waits
 * are budgeted inside it, so a charger sitting on a CALL at SIGTERM is closed anyway and the process exits 0
 * by itself (the deadline's forced exit is code 1). A shutdown configuration that cannot fit is refused at start.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, it } from 'node:test';
import { postCall } from './helpers/backend-http.js';
import { runServerProcessToExit, startServerProcess, within } from './helpers/gateway-harness.js';
import { OcppClient } from './helpers/ocpp-client.js';

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('shutdown within its deadline', () => {
  it('SIGTERM while a command waits for a charger that never answers (call timeout 60 s, deadline 8 s): the charger gets 1001, the command DEVICE_OFFLINE, exit 0', async () => {
    const proc = await startServerProcess({ env: { CALL_TIMEOUT_MS: '60000', SHUTDOWN_DRAIN_MS: '500', SHUTDOWN_DEADLINE_MS: '8000' } });
    const exited = exitOf(proc.child);
    const adminUrl = `http://127.0.0.1:${proc.adminPort}`;
    // This charger reads the gateway's CALL and never answers it.
    const charger = await OcppClient.connect(`${proc.url}/ocpp`, 'SILENT-AT-SIGTERM', ['ocpp1.6']);
    try {
      const command = postCall(adminUrl, 'SILENT-AT-SIGTERM', { action: 'TriggerMessage', payload: { requestedMessage: 'Heartbeat' } });
      const call = await charger.nextFrame(5000);
      assert.equal(call[0], 2, 'the command reached the charger as a CALL');
      assert.equal(call[2], 'TriggerMessage');

      proc.child.kill('SIGTERM');
      const exit = await within(exited, 30_000, 'the process exiting');
      const closed = await within(charger.closed, 5000, 'the charger seeing its close');
      const answer = await within(command, 5000, 'the command request ending');

      const log = `\nstdout (last lines):\n${proc.stdout.slice(-6).join('\n')}\nstderr:\n${proc.stderr.join('\n')}`;
      assert.deepEqual(exit, { code: 0, signal: null }, `exited by itself with 0, before the deadline's forced exit${log}`);
      assert.ok(
        proc.stdout.some((l) => l.includes('"shutdown complete"')),
        `the shutdown completed${log}`,
      );
      assert.ok(!proc.stdout.some((l) => l.includes('shutdown deadline passed')), `the deadline was not reached${log}`);
      assert.equal(closed.code, 1001, `charger closed with ${closed.code} ${closed.reason}`);
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.equal((answer.body as { error: { code: string } }).error.code, 'DEVICE_OFFLINE');
    } finally {
      charger.terminate();
      await proc.stop();
    }
  });
});

describe('contradictory shutdown settings stop start-up', () => {
  it('SHUTDOWN_DRAIN_MS=28000 with the default 30 s deadline: exits 2 with one line naming shutdown.deadlineMs and shutdown.drainMs', async () => {
    const { code, stderr, stdout } = await runServerProcessToExit({ env: { SHUTDOWN_DRAIN_MS: '28000' } });
    assert.equal(code, 2, `exit code; stderr: ${stderr}`);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /shutdown\.deadlineMs/);
    assert.match(lines[0], /shutdown\.drainMs 28000/);
    assert.doesNotMatch(stdout, /gateway accepting chargers/);
  });

  it('a deadline shorter than the drain (SHUTDOWN_DEADLINE_MS=5000, SHUTDOWN_DRAIN_MS=10000): refused the same way', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { SHUTDOWN_DRAIN_MS: '10000', SHUTDOWN_DEADLINE_MS: '5000' } });
    assert.equal(code, 2, `exit code; stderr: ${stderr}`);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /^gateway: invalid configuration at shutdown\.deadlineMs \(SHUTDOWN_DEADLINE_MS\): .*shutdown\.drainMs 10000/);
  });
});
