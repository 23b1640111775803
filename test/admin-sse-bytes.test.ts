/**
 * An event stream's buffer for a slow client is bounded in bytes as well as in events: events carry raw OCPP
 * payloads of up to 1 MiB, so a few thousand of them would hold gigabytes. A real charger sends large
 * DataTransfers while an SSE client stops reading; the stream ends with `overflow` long before the event bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBackendApp } from './helpers/backend-app.js';
import { metricSample, openRawStream, parseSseFrames, readMetrics } from './helpers/backend-http.js';
import { waitUntil } from './helpers/gateway-harness.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

const BUFFER_BYTES = 1024 * 1024;
const BUFFER_EVENTS = 10_000;

describe('event stream buffer bounded in bytes', () => {
  it('a client that stops reading while 512 KB DataTransfers flow is ended with overflow at admin.sseBufferBytes, counted once, after a gapless prefix', async () => {
    const backend = await startBackendApp({ overrides: { admin: { sseBufferEvents: BUFFER_EVENTS, sseBufferBytes: BUFFER_BYTES } } });
    const charger = await OcppClient.connect(backend.chargerUrl, 'SSE-BYTES', ['ocpp1.6']);
    try {
      const adminPort = Number(new URL(backend.adminUrl).port);
      const stream = await openRawStream(adminPort, '/api/v1/events?chargePointId=SSE-BYTES&eventType=data_transfer.received');
      await waitUntil(() => stream.text().includes('stream open'), 2000, 'the preamble');
      stream.pause();

      const overflows = async () => metricSample(await readMetrics(backend.adminUrl), 'admin_sse_overflow_closes_total', {}) ?? 0;
      const filler = 'x'.repeat(512 * 1024);
      let sent = 0;
      // However much the sockets absorb, a bounded buffer must give out after a bounded number of events.
      while ((await overflows()) === 0) {
        assert.ok(sent < 400, `no overflow after ${sent} events of 512 KB: the buffer is not bounded in bytes`);
        expectResult(await charger.call('DataTransfer', { vendorId: 'com.example', data: `${sent}:${filler}` }, { timeoutMs: 10_000 }));
        sent++;
      }
      assert.ok(sent < BUFFER_EVENTS, 'the byte bound, not the event bound, ended the stream');
      assert.equal(await overflows(), 1, 'the overflow is counted once');

      stream.resume();
      await stream.ended;
      const frames = parseSseFrames(stream.text());
      const last = frames.at(-1)!;
      assert.equal(last.event, 'overflow', 'the final event says why the stream ended');
      assert.equal(last.data.bufferBytes, BUFFER_BYTES);
      assert.equal(last.data.bufferEvents, BUFFER_EVENTS);
      const events = frames.slice(0, -1);
      assert.ok(events.length < sent, `events after the overflow are not delivered (${events.length} of ${sent})`);
      assert.deepEqual(
        events.map((f) => String(f.data.payload.data).split(':')[0]),
        events.map((_, i) => String(i)),
        'a gapless prefix, in the order the charger sent them',
      );
      assert.equal(last.data.lastEventId, events.at(-1)!.id, 'the overflow event names the last event delivered');

      // The gateway kept serving the charger throughout.
      expectResult(await charger.call('Heartbeat', {}));
    } finally {
      await charger.close();
      await backend.stop();
    }
  });
});
