/**
 * The durable path when NATS fails, against a nats-server each test starts for itself (never the shared one):
 * a server that stops answering makes publishes fail by their ack timeout; a server killed and restarted makes
 * the bus unready and then ready again, loses nothing it acknowledged, and stores retried events once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { NatsBus } from '../src/bus/nats-bus.js';
import { BusTimeoutError, BusUnavailableError } from '../src/bus/types.js';
import type { GatewayEvent } from '../src/events/envelope.js';
import { connectTo, natsServerBinarySkipReason, OwnNatsServer, readStream, waitFor } from './helpers/nats-server.js';

const skip = await natsServerBinarySkipReason();

function event(chargePointId: string, payload: Record<string, unknown> = {}): GatewayEvent {
  return {
    eventId: randomUUID(),
    eventType: 'transaction.meter_values',
    chargePointId,
    gatewayId: 'gw-test',
    timestamp: new Date().toISOString(),
    protocol: 'ocpp2.0.1',
    payload,
  };
}

async function settle(promises: Promise<void>[]): Promise<PromiseSettledResult<void>[]> {
  return Promise.allSettled(promises);
}

describe('NATS bus faults (own nats-server)', { skip }, () => {
  test('a server that stops answering (SIGSTOP): publishes reject with BusTimeoutError, those queued behind them with BusUnavailableError', async () => {
    const server = await OwnNatsServer.start();
    let bus: NatsBus | undefined;
    try {
      bus = await NatsBus.start({ servers: server.url, ackTimeoutMs: 800 });
      await bus.publishEvent(event('STOP-0'));
      await server.pause();
      const first = [bus.publishEvent(event('STOP-1')), bus.publishEvent(event('STOP-2')), bus.publishEvent(event('STOP-3'))];
      const behind = bus.publishEvent(event('STOP-1'));
      const results = await settle([...first, behind]);
      for (const r of results.slice(0, 3))
        assert.ok(r.status === 'rejected' && r.reason instanceof BusTimeoutError, String(r.status === 'rejected' ? r.reason : 'fulfilled'));
      const last = results[3];
      assert.ok(
        last.status === 'rejected' && last.reason instanceof BusUnavailableError && last.reason.cause instanceof BusTimeoutError,
        String(last.status === 'rejected' ? last.reason : 'fulfilled'),
      );
      server.resume();
      // Once the server answers again, so does the bus.
      await bus.publishEvent(event('STOP-1'));
    } finally {
      server.resume();
      await bus?.close();
      await server.dispose();
    }
  });

  test('server killed and restarted: unready then ready, acknowledged events kept, events retried across the outage stored once', async () => {
    const server = await OwnNatsServer.start();
    let bus: NatsBus | undefined;
    const admin = { nc: undefined as Awaited<ReturnType<typeof connectTo>> | undefined };
    try {
      bus = await NatsBus.start({ servers: server.url, ackTimeoutMs: 2000, reconnectWaitMs: 50, maxReconnectWaitMs: 200 });
      assert.equal(bus.isReady(), true);
      const chargers = ['KILL.A', 'KILL B', 'KILL*C'];
      const before = chargers.flatMap((id) => Array.from({ length: 10 }, (_, n) => event(id, { n })));
      await Promise.all(before.map((e) => bus?.publishEvent(e)));

      await server.kill();
      await waitFor('the bus to notice the outage', () => bus?.isReady() === false);
      const during = chargers.flatMap((id) => Array.from({ length: 10 }, (_, n) => event(id, { n: 10 + n })));
      const outage = await settle(during.map((e) => (bus as NatsBus).publishEvent(e)));
      for (const r of outage) assert.ok(r.status === 'rejected' && r.reason instanceof BusUnavailableError, String(r.status === 'rejected' ? r.reason : 'fulfilled'));

      await server.launch();
      await waitFor('the bus to be ready again', () => bus?.isReady() === true);
      // Retry everything, as a gateway that does not know what reached the stream would: the same eventIds.
      for (const e of [...before, ...during]) await bus.publishEvent(e);

      admin.nc = await connectTo(server.url);
      const stored = await readStream(admin.nc, 'OCPP_EVENTS');
      assert.deepEqual(stored.map((m) => m.data.eventId).sort(), [...before, ...during].map((e) => e.eventId).sort());
      for (const id of chargers) {
        assert.deepEqual(
          stored.filter((m) => m.data.chargePointId === id).map((m) => m.data.payload.n),
          Array.from({ length: 20 }, (_, n) => n),
          id,
        );
      }
    } finally {
      await admin.nc?.close();
      await bus?.close();
      await server.dispose();
    }
  });

  test('close() while the server does not answer still returns, and refuses publishes from then on', { timeout: 30_000 }, async () => {
    const server = await OwnNatsServer.start();
    try {
      const bus = await NatsBus.start({ servers: server.url, ackTimeoutMs: 500 });
      await server.pause();
      const inFlight = bus.publishEvent(event('CLOSE-1'));
      const closing = bus.close();
      await assert.rejects(bus.publishEvent(event('CLOSE-2')), BusUnavailableError);
      await assert.rejects(inFlight, BusTimeoutError);
      await closing;
      assert.equal(bus.isReady(), false);
    } finally {
      server.resume();
      await server.dispose();
    }
  });

  test('started while the server is away: start rejects, and nothing is left running', async () => {
    const server = await OwnNatsServer.start();
    await server.kill();
    try {
      await assert.rejects(NatsBus.start({ servers: server.url }));
    } finally {
      await server.dispose();
    }
  });
});
