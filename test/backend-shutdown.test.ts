/**
 * Graceful shutdown of the real process (`node dist/src/main.js`): SIGTERM with chargers connected and an event
 * stream open, and a second signal during a long drain.
 */

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { describe, test } from 'node:test';
import { type ClosedInfo, sleep, TestCharger } from './helpers/backend-charger.js';
import { getText, postCall, SseStream } from './helpers/backend-http.js';
import { type ServerProcess, startServerProcess } from './helpers/gateway-harness.js';

/** The process's exit, as observed from the moment this is called. */
function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode, at: Date.now() });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
}

/** `promise`'s value, or `fallback` after `ms`. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function connectMany(url: string, prefix: string, count: number): Promise<TestCharger[]> {
  const chargers: TestCharger[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, (_, j) =>
        TestCharger.connect(url, `${prefix}-${String(i + j).padStart(3, '0')}`, {
          handler: (call) => (call.action === 'TriggerMessage' ? { result: { status: 'Accepted' } } : { error: { code: 'NotImplemented' } }),
        }),
      ),
    );
    chargers.push(...batch);
  }
  return chargers;
}

async function waitReady(adminUrl: string): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    const res = await getText(`${adminUrl}/readyz`);
    if (res.status === 200) return;
    if (Date.now() > end) throw new Error(`/readyz never answered 200 (last: ${res.status} ${res.error ?? res.text})`);
    await sleep(50);
  }
}

/** Polls /readyz until it answers 503; returns what it saw last. */
async function until503(adminUrl: string, timeoutMs: number): Promise<{ status: number; text: string; error?: string }> {
  const end = Date.now() + timeoutMs;
  let last = await getText(`${adminUrl}/readyz`);
  while (last.status !== 503 && Date.now() < end) {
    await sleep(20);
    last = await getText(`${adminUrl}/readyz`);
  }
  return last;
}

function tail(proc: ServerProcess): string {
  return `\nstdout (last lines):\n${proc.stdout.slice(-8).join('\n')}\nstderr:\n${proc.stderr.slice(-8).join('\n')}`;
}

describe('graceful shutdown of the real process', () => {
  test('SIGTERM: /readyz 503, new chargers refused, every charger closed with 1001, SSE ended with every answered event, exit 0', async () => {
    const proc = await startServerProcess({ env: { SHUTDOWN_DRAIN_MS: '1000' } });
    const exited = exitOf(proc.child);
    const adminUrl = `http://127.0.0.1:${proc.adminPort}`;
    const chargerUrl = `${proc.url}/ocpp`;
    let chargers: TestCharger[] = [];
    let sse: SseStream | undefined;
    try {
      await waitReady(adminUrl);
      sse = await SseStream.open(adminUrl);
      chargers = await connectMany(chargerUrl, 'SD', 50);
      await sse.waitFor(() => sse!.envelopes.filter((e) => e.eventType === 'charge_point.connected').length === 50, 10_000, '50 connected events');

      // CALLs answered just before the signal: one from every charger, and a command to one of them.
      const answered = await Promise.all(
        chargers.map((c) => c.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: new Date().toISOString() })),
      );
      assert.ok(
        answered.every((a) => a.kind === 'result'),
        'every StatusNotification was answered',
      );
      const command = await postCall(adminUrl, 'SD-000', { action: 'TriggerMessage', payload: { requestedMessage: 'Heartbeat' }, commandId: 'cmd-before-sigterm' });
      assert.equal(command.status, 200, JSON.stringify(command.body));

      const signalledAt = Date.now();
      proc.child.kill('SIGTERM');
      // CALLs racing the signal: whichever the gateway answers must have its event on the stream too.
      const racing = chargers.map((c, i) =>
        c.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(90_000 + i) }] }] }, 10_000).then(
          (answer) => answer.kind === 'result',
          () => false,
        ),
      );

      const readyz = await until503(adminUrl, 3000);
      const refused = await TestCharger.connect(chargerUrl, 'SD-LATECOMER', { timeoutMs: 3000 }).then(
        async (c) => {
          await c.terminate();
          return 'accepted';
        },
        (err: Error) => `refused (${err.message})`,
      );
      const closes = await Promise.all(chargers.map((c) => within<ClosedInfo, null>(c.closed, 40_000, null)));
      const streamEnd = await within(sse.ended, 40_000, null);
      const exit = await within(exited, 40_000, null);

      assert.equal(readyz.status, 503, `/readyz right after SIGTERM: ${readyz.status} ${readyz.error ?? readyz.text}`);
      assert.match(readyz.text, /draining/);
      assert.match(refused, /^refused/, 'a charger connecting after the signal is refused');
      const notGoingAway = closes
        .map((info, i) => [chargers[i].identity, info] as const)
        .filter(([, info]) => info === null || info.code !== 1001)
        .map(([identity, info]) => `${identity}: ${info === null ? 'still open' : `${info.code} ${info.reason}`}`);
      assert.equal(
        notGoingAway.length,
        0,
        `every charger gets 1001 (going away); ${notGoingAway.length} of ${chargers.length} did not: ${notGoingAway.slice(0, 3).join('; ')}${tail(proc)}`,
      );

      assert.notEqual(streamEnd, null, 'the SSE stream ended');
      assert.equal(streamEnd?.how, 'end', 'the server ended the SSE response cleanly');
      assert.ok(
        sse.events.some((e) => e.event === 'end'),
        'the stream closes with a final end event',
      );
      for (const c of chargers) {
        assert.ok(
          sse.envelopes.some((e) => e.chargePointId === c.identity && e.eventType === 'connector.status_changed' && e.payload.status === 'Available'),
          `the answered StatusNotification of ${c.identity} is on the stream`,
        );
      }
      const racedAndAnswered = (await Promise.all(racing)).map((ok, i) => (ok ? i : -1)).filter((i) => i >= 0);
      for (const i of racedAndAnswered) {
        assert.ok(
          sse.envelopes.some(
            (e) =>
              e.chargePointId === chargers[i].identity && e.eventType === 'transaction.meter_values' && e.payload.meterValues[0]?.sampledValues[0]?.value === 90_000 + i,
          ),
          `the MeterValues of ${chargers[i].identity} sent at the signal was answered, so its event is on the stream`,
        );
      }
      const commandEvents = sse.envelopes.filter((e) => e.eventType === 'command.response' && e.payload.commandId === 'cmd-before-sigterm');
      assert.equal(commandEvents.length, 1, 'the command answered before the signal has its command.response on the stream');
      assert.equal(commandEvents[0].payload.status, 'completed');

      assert.notEqual(exit, null, `the process exited${tail(proc)}`);
      assert.equal(exit?.signal, null, 'the process exited by itself');
      assert.equal(exit?.code, 0, `exit code${tail(proc)}`);
      assert.ok(exit!.at - signalledAt < 30_000, `exited ${exit!.at - signalledAt} ms after SIGTERM, within the 30 s shutdown deadline`);
    } finally {
      await sse?.close();
      await Promise.all(chargers.map((c) => c.terminate()));
      await proc.stop();
    }
  });

  test('a second SIGTERM during a long drain forces the exit at once, with a non-zero code', async () => {
    const proc = await startServerProcess({ env: { SHUTDOWN_DRAIN_MS: '20000' } });
    const exited = exitOf(proc.child);
    const adminUrl = `http://127.0.0.1:${proc.adminPort}`;
    let chargers: TestCharger[] = [];
    try {
      await waitReady(adminUrl);
      chargers = await connectMany(`${proc.url}/ocpp`, 'SD2', 10);
      proc.child.kill('SIGTERM');
      const readyz = await until503(adminUrl, 3000);
      assert.equal(readyz.status, 503, 'the first signal started the drain');
      await sleep(200);
      assert.equal(proc.child.exitCode, null, 'still draining after the first signal');
      const secondAt = Date.now();
      proc.child.kill('SIGTERM');
      const exit = await within(exited, 10_000, null);
      assert.notEqual(exit, null, `the process exited after the second signal${tail(proc)}`);
      assert.ok(exit!.at - secondAt < 5000, `forced exit ${exit!.at - secondAt} ms after the second signal, not after the 20 s drain`);
      assert.equal(exit!.signal, null, 'the process exited by itself, not killed by the signal');
      assert.notEqual(exit!.code, 0, 'a forced exit is not a clean one');
    } finally {
      await Promise.all(chargers.map((c) => c.terminate()));
      await proc.stop();
    }
  });
});
