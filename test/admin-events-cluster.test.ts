/**
 * The admin event stream in cluster mode: an admin server whose `GET /api/v1/events` reads the JetStream events
 * stream (a real NatsBus on the shared NATS server, with a subject root and stream of each test's own). Events
 * published by any instance reach the client with their stream sequence as SSE id; a client that reconnects
 * with Last-Event-ID gets exactly the events after it; filters select on the stream; a slow client still ends
 * with `overflow`, and can resume from the event that names.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { type AdminServer, startAdminServer } from '../src/admin/admin-server.js';
import { JetStreamEventFeed, subjectFilter } from '../src/admin/jetstream-event-feed.js';
import { NatsBus } from '../src/bus/nats-bus.js';
import { natsSubjects } from '../src/bus/nats-subjects.js';
import type { GatewayEvent } from '../src/events/envelope.js';
import { openRawStream, parseSseFrames, SseStream } from './helpers/backend-http.js';
import { type GatewayHarness, startGateway, waitUntil } from './helpers/gateway-harness.js';
import { connectTo, deleteStream, readStream, SHARED_NATS_URL, sharedNatsSkipReason, uniqueNames } from './helpers/nats-server.js';

const skip = await sharedNatsSkipReason();

function event(chargePointId: string, eventType: string, gatewayId: string, payload: Record<string, unknown> = {}): GatewayEvent {
  return { eventId: randomUUID(), eventType, chargePointId, gatewayId, timestamp: new Date().toISOString(), protocol: 'ocpp1.6', payload };
}

describe('admin event stream from the JetStream events stream', { skip }, () => {
  let natsAdmin: NatsConnection;
  let harness: GatewayHarness;
  const buses: NatsBus[] = [];
  const streams: string[] = [];
  const admins: AdminServer[] = [];

  before(async () => {
    natsAdmin = await connectTo(SHARED_NATS_URL);
    harness = await startGateway();
  });
  after(async () => {
    await Promise.all(admins.map((a) => a.close()));
    await Promise.all(buses.map((b) => b.close()));
    for (const s of streams) await deleteStream(natsAdmin, s);
    await harness?.stop();
    await natsAdmin?.close();
  });

  /** A fresh stream (sequences from 1) and an admin server reading it. */
  async function setup(options: { sseBufferEvents?: number } = {}): Promise<{ bus: NatsBus; stream: string; api: string; admin: AdminServer }> {
    const { root, stream } = uniqueNames();
    streams.push(stream);
    const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, ackTimeoutMs: 10_000, stream: { name: stream } });
    buses.push(bus);
    const admin = await startAdminServer(harness.gateway, {
      host: '127.0.0.1',
      port: 0,
      events: new JetStreamEventFeed(bus),
      sseLingerMs: 500,
      ...options,
    });
    admins.push(admin);
    return { bus, stream, api: `http://127.0.0.1:${admin.port}`, admin };
  }

  /** eventId → stream sequence, as the server stored them (read by a consumer of the test's own). */
  async function sequences(stream: string): Promise<Map<string, number>> {
    return new Map((await readStream(natsAdmin, stream)).map((m) => [m.data.eventId as string, m.seq]));
  }

  test('a client that reconnects with Last-Event-ID gets exactly the events after it, in order, none twice, from every instance', async () => {
    const { bus, stream, api } = await setup();
    const earlier = [event('CP-1', 'charge_point.booted', 'gw-a'), event('CP-2', 'charge_point.booted', 'gw-b')];
    for (const e of earlier) await bus.publishEvent(e);

    // Without Last-Event-ID: what is stored from the response on, not what was there before.
    const first = await SseStream.open(api);
    const live = Array.from({ length: 10 }, (_, i) => event(i % 2 === 0 ? 'CP-1' : 'CP-2', 'transaction.started', i % 2 === 0 ? 'gw-a' : 'gw-b', { n: i }));
    for (const e of live) await bus.publishEvent(e);
    await first.waitFor((e) => e.eventId === live[9].eventId, 5000, 'the tenth live event');
    await first.close();

    const seq = await sequences(stream);
    assert.deepEqual(
      first.envelopes.map((e) => e.eventId),
      live.map((e) => e.eventId),
    );
    assert.deepEqual(
      first.events.map((e) => e.id),
      live.map((e) => String(seq.get(e.eventId))),
      'each SSE id is the stream sequence of its event',
    );
    assert.deepEqual(
      first.events.map((e) => e.event),
      live.map((e) => e.eventType),
    );

    // Stored while nobody was connected.
    const missed = Array.from({ length: 5 }, (_, i) => event('CP-3', 'connector.status_changed', 'gw-c', { n: i }));
    for (const e of missed) await bus.publishEvent(e);

    const lastSeen = first.events.at(-1)?.id as string;
    const resumed = await SseStream.open(api, {}, 5000, { 'Last-Event-ID': lastSeen });
    const afterResume = event('CP-1', 'transaction.stopped', 'gw-a');
    await bus.publishEvent(afterResume);
    await resumed.waitFor((e) => e.eventId === afterResume.eventId, 5000, 'the event published after the resume');

    // Resuming from the middle of what the first client saw.
    const middle = first.events[3].id as string;
    const fromMiddle = await SseStream.open(api, {}, 5000, { 'Last-Event-ID': middle });
    await fromMiddle.waitFor((e) => e.eventId === afterResume.eventId, 5000, 'the last event');
    await resumed.close();
    await fromMiddle.close();

    const seqAll = await sequences(stream);
    const expectedResumed = [...missed, afterResume];
    assert.deepEqual(
      resumed.envelopes.map((e) => e.eventId),
      expectedResumed.map((e) => e.eventId),
    );
    assert.deepEqual(
      resumed.events.map((e) => e.id),
      expectedResumed.map((e) => String(seqAll.get(e.eventId))),
    );
    assert.deepEqual(
      fromMiddle.envelopes.map((e) => e.eventId),
      [...live.slice(4), ...missed, afterResume].map((e) => e.eventId),
    );
  });

  test('filters by charger and event type select the same events as on one instance, identities with dots included', async () => {
    const { bus, api } = await setup();
    const a1 = event('CP.1', 'transaction.started', 'gw-a');
    const b1 = event('CP-2', 'transaction.started', 'gw-b');
    const a2 = event('CP.1', 'connector.status_changed', 'gw-a');
    const b2 = event('CP-2', 'transaction.stopped', 'gw-b');
    const c1 = event('CP.10', 'transaction.started', 'gw-c');
    const a3 = event('CP.1', 'transaction.stopped', 'gw-a');
    const b3 = event('CP-2', 'connector.status_changed', 'gw-b');
    for (const e of [a1, b1, a2, b2, c1, a3, b3]) await bus.publishEvent(e);

    // Last-Event-ID 0: from the start of the stream, so every stream sees the same stored events.
    const fromStart = { 'Last-Event-ID': '0' };
    const cases: Array<{ query: Record<string, string>; expected: GatewayEvent[] }> = [
      { query: { chargePointId: 'CP.1' }, expected: [a1, a2, a3] },
      { query: { eventType: 'transaction.' }, expected: [a1, b1, b2, c1, a3] },
      { query: { eventType: 'connector.status_changed' }, expected: [a2, b3] },
      { query: { chargePointId: 'CP-2', eventType: 'transaction.stopped' }, expected: [b2] },
      { query: {}, expected: [a1, b1, a2, b2, c1, a3, b3] },
    ];
    for (const { query, expected } of cases) {
      const s = await SseStream.open(api, query, 5000, fromStart);
      // Stream order: once the last expected event is there, every earlier one is too, and no later one matches.
      await s.waitFor((e) => e.eventId === expected.at(-1)?.eventId, 5000, `the last event for ${JSON.stringify(query)}`);
      await s.close();
      assert.deepEqual(
        s.envelopes.map((e) => `${e.chargePointId} ${e.eventType}`),
        expected.map((e) => `${e.chargePointId} ${e.eventType}`),
        JSON.stringify(query),
      );
    }
  });

  test('a Last-Event-ID that is not a stream sequence is refused with 400 naming the header', async () => {
    const { api } = await setup();
    for (const bad of ['abc', '-1', '1.5', 'e1']) {
      const res = await fetch(`${api}/api/v1/events`, { headers: { 'Last-Event-ID': bad } });
      assert.equal(res.status, 400, bad);
      const body = (await res.json()) as { error: { code: string; field: string } };
      assert.equal(body.error.code, 'BAD_REQUEST');
      assert.equal(body.error.field, 'headers/last-event-id');
    }
  });

  test('when the events stream cannot be read the client gets 503 UNAVAILABLE, not a stream', async () => {
    const { bus, stream, api } = await setup();
    // The stream is gone behind the bus's back: the bus still looks ready, the consumer cannot be created.
    await deleteStream(natsAdmin, stream);
    const gone = await fetch(`${api}/api/v1/events`);
    assert.equal(gone.status, 503);
    assert.match(gone.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'UNAVAILABLE');

    // A bus that is closed is not ready: refused before any stream is attempted.
    await bus.close();
    const closed = await fetch(`${api}/api/v1/events`);
    assert.equal(closed.status, 503);
    assert.equal(((await closed.json()) as { error: { code: string } }).error.code, 'UNAVAILABLE');
  });

  test('a client that does not read is ended with overflow after a gapless prefix, and resumes from the event it names', async () => {
    const { bus, stream, admin } = await setup({ sseBufferEvents: 10 });
    const overflows = async () => (await harness.gateway.metrics.registry.getSingleMetric('admin_sse_overflow_closes_total')?.get())?.values[0]?.value ?? 0;
    const before = await overflows();

    const raw = await openRawStream(admin.port);
    await waitUntil(() => raw.text().includes('stream open'), 2000, 'the preamble');
    raw.pause();
    const big = 'x'.repeat(64 * 1024);
    const published = Array.from({ length: 200 }, (_, i) => event('LOAD', 'test.load', 'gw-a', { i, big }));
    for (const e of published) await bus.publishEvent(e);
    await waitUntil(async () => (await overflows()) === before + 1, 10_000, 'the overflow to be counted');
    raw.resume();
    await raw.ended;

    const seq = await sequences(stream);
    const frames = parseSseFrames(raw.text());
    const last = frames.at(-1);
    assert.equal(last?.event, 'overflow');
    const delivered = frames.slice(0, -1);
    assert.ok(delivered.length >= 10 && delivered.length < 200, `a prefix was delivered (${delivered.length})`);
    assert.deepEqual(
      delivered.map((f) => f.id),
      published.slice(0, delivered.length).map((e) => String(seq.get(e.eventId))),
      'a gapless prefix in stream order',
    );
    assert.equal(last?.data.lastEventId, delivered.at(-1)?.id);

    // A client that reads gets the rest through an admin server whose buffer holds the whole catch-up burst
    // (the stream replays as fast as NATS delivers).
    const roomy = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0, events: new JetStreamEventFeed(bus), sseBufferBytes: 64 * 1024 * 1024 });
    admins.push(roomy);
    const resumed = await SseStream.open(`http://127.0.0.1:${roomy.port}`, {}, 5000, { 'Last-Event-ID': last?.data.lastEventId });
    await resumed.waitFor((e) => e.eventId === published[199].eventId, 10_000, 'the last published event');
    await resumed.close();
    assert.deepEqual(
      resumed.envelopes.map((e) => e.eventId),
      published.slice(delivered.length).map((e) => e.eventId),
      'the resumed stream carries exactly the rest',
    );
  });
});

test('the consumer filters on the server when the query fits one subject (NATS 2.9 takes one filter)', () => {
  const subjects = natsSubjects('site-a.gw');
  const cases: Array<[Parameters<typeof subjectFilter>[1], string]> = [
    [{}, 'site-a.gw.events.>'],
    [{ chargePointIds: ['CP.1'] }, 'site-a.gw.events.*.*.CP%2E1'],
    [{ eventTypes: ['transaction.started'] }, 'site-a.gw.events.transaction.started.*'],
    [{ eventTypes: ['transaction.'] }, 'site-a.gw.events.transaction.*.*'],
    [{ chargePointIds: ['CP 2'], eventTypes: ['transaction.'] }, 'site-a.gw.events.transaction.*.CP%202'],
    [{ chargePointIds: ['A', 'B'] }, 'site-a.gw.events.>'],
    [{ chargePointIds: ['A', 'B'], eventTypes: ['connector.status_changed'] }, 'site-a.gw.events.connector.status_changed.*'],
    [{ chargePointIds: ['A'], eventTypes: ['transaction.', 'connector.'] }, 'site-a.gw.events.*.*.A'],
    [{ eventTypes: ['a.b.'] }, 'site-a.gw.events.>'],
  ];
  for (const [spec, expected] of cases) assert.equal(subjectFilter(subjects, spec), expected, JSON.stringify(spec));
});
