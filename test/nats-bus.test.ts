/**
 * The JetStream bus against a real NATS server (the shared one, NATS_URL or 127.0.0.1:4222): events stored once
 * under their charger's subject token, in order per charger, de-duplicated by eventId, in-flight publishes
 * bounded; requests answered once by a queue group; stream settings as configured; replay by sequence.
 * Each test uses a stream and a subject root of its own and deletes the stream at the end.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { NatsBus, type NatsBusOptions, type StoredBusMessage } from '../src/bus/nats-bus.js';
import { decodeSubjectToken } from '../src/bus/subject-token.js';
import { BusResponderError, BusTimeoutError, BusUnavailableError, NoRespondersError } from '../src/bus/types.js';
import type { GatewayEvent } from '../src/events/envelope.js';
import { connectTo, deleteStream, readStream, SHARED_NATS_URL, sharedNatsSkipReason, subjectCounts, uniqueNames, waitFor } from './helpers/nats-server.js';

const skip = await sharedNatsSkipReason();

function event(chargePointId: string, eventType = 'charge_point.heartbeat', payload: Record<string, unknown> = {}): GatewayEvent {
  return { eventId: randomUUID(), eventType, chargePointId, gatewayId: 'gw-test', timestamp: new Date().toISOString(), protocol: 'ocpp1.6', payload };
}

describe('NATS bus: events', { skip }, () => {
  let admin: NatsConnection;
  const buses: NatsBus[] = [];
  const streams: string[] = [];

  before(async () => {
    admin = await connectTo(SHARED_NATS_URL);
  });
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    for (const s of streams) await deleteStream(admin, s);
    await admin.close();
  });

  async function startBus(options: Partial<NatsBusOptions> = {}): Promise<NatsBus & { root: string; stream: string }> {
    const { root, stream } = uniqueNames();
    streams.push(stream);
    const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, ackTimeoutMs: 10_000, ...options, stream: { name: stream, ...options.stream } });
    buses.push(bus);
    return Object.assign(bus, { root, stream });
  }

  test('each event is stored once on {root}.events.{eventType}.{charger token}, also for identities with dots, spaces, wildcards, % and non-ASCII', async () => {
    const bus = await startBus();
    const tokens: Record<string, string> = {
      'CP.1': 'CP%2E1',
      'CP 2': 'CP%202',
      'CP*3': 'CP%2A3',
      'CP>4': 'CP%3E4',
      '%2E': '%252E',
      'a.b.>': 'a%2Eb%2E%3E',
      Zürich: 'Z%C3%BCrich',
      充电桩: '%E5%85%85%E7%94%B5%E6%A1%A9',
    };
    const published: GatewayEvent[] = [];
    for (const id of Object.keys(tokens)) {
      const e = event(id, 'transaction.started');
      published.push(e);
      // The short subject the gateway uses today; the bus appends the token.
      await bus.publish(`${bus.root}.events.transaction.started`, e);
    }
    const viaFullSubject = event('CP.1', 'connector.status_changed');
    await bus.publish(`${bus.root}.events.connector.status_changed.CP%2E1`, viaFullSubject);
    const viaPublishEvent = event('CP.1', 'transaction.stopped');
    await bus.publishEvent(viaPublishEvent);

    const expected: Record<string, number> = {};
    for (const token of Object.values(tokens)) expected[`${bus.root}.events.transaction.started.${token}`] = 1;
    expected[`${bus.root}.events.connector.status_changed.CP%2E1`] = 1;
    expected[`${bus.root}.events.transaction.stopped.CP%2E1`] = 1;
    assert.deepEqual(await subjectCounts(admin, bus.stream), expected);

    const stored = await readStream(admin, bus.stream);
    for (const m of stored) {
      assert.equal(decodeSubjectToken(m.subject.split('.').at(-1) as string), m.data.chargePointId);
      assert.equal(m.msgId, m.data.eventId);
    }

    // One charger's events, whatever their type, through a subject filter.
    const ofCp1 = await readStream(admin, bus.stream, bus.subjects.eventsOfCharger('CP.1'));
    assert.deepEqual(
      ofCp1.map((m) => m.data.eventId),
      [published[0].eventId, viaFullSubject.eventId, viaPublishEvent.eventId],
    );
  });

  test('an event published again with the same eventId is stored once; another eventId is stored again', async () => {
    const bus = await startBus();
    const e = event('CP-DUP');
    await bus.publish(`${bus.root}.events.charge_point.heartbeat`, e);
    await bus.publish(`${bus.root}.events.charge_point.heartbeat`, e);
    await Promise.all([bus.publishEvent(e), bus.publishEvent(e)]);
    const other = { ...e, eventId: randomUUID() };
    await bus.publishEvent(other);
    const stored = await readStream(admin, bus.stream);
    assert.deepEqual(
      stored.map((m) => m.data.eventId),
      [e.eventId, other.eventId],
    );
  });

  test("200 chargers x 50 events published all at once: each charger's events are stored in the order published", async () => {
    const bus = await startBus({ ackTimeoutMs: 60_000, maxInFlight: 512, maxWaiting: 20_000 });
    const chargers = Array.from({ length: 200 }, (_, i) => `ORDER.${i}`);
    const pending: Promise<void>[] = [];
    for (let n = 0; n < 50; n++) {
      for (const id of chargers) pending.push(bus.publishEvent(event(id, 'transaction.meter_values', { n })));
    }
    await Promise.all(pending);
    // Nothing in progress any more: no charger is remembered.
    assert.deepEqual(bus.stats(), { inFlight: 0, waiting: 0, chargers: 0 });

    const stored = await readStream(admin, bus.stream);
    assert.equal(stored.length, 200 * 50);
    const seen = new Map<string, number[]>();
    for (const m of stored) {
      const list = seen.get(m.data.chargePointId) ?? [];
      list.push(m.data.payload.n);
      seen.set(m.data.chargePointId, list);
    }
    const inOrder = Array.from({ length: 50 }, (_, n) => n);
    for (const id of chargers) assert.deepEqual(seen.get(id), inOrder, id);
  });

  test('stream settings are applied on start, and updated when a later start asks for others', async () => {
    const settings = { retention: 'limits' as const, maxAgeMs: 3_600_000, maxBytes: 10_000_000, maxMsgs: 5000, replicas: 1, duplicateWindowMs: 60_000 };
    const bus = await startBus({ stream: settings });
    const jsm = await jetstreamManager(admin);
    const first = (await jsm.streams.info(bus.stream)).config;
    assert.deepEqual(
      {
        subjects: first.subjects,
        retention: first.retention,
        max_age: first.max_age,
        max_bytes: first.max_bytes,
        max_msgs: first.max_msgs,
        num_replicas: first.num_replicas,
        duplicate_window: first.duplicate_window,
        storage: first.storage,
      },
      {
        subjects: [`${bus.root}.events.>`],
        retention: 'limits',
        max_age: 3_600_000_000_000,
        max_bytes: 10_000_000,
        max_msgs: 5000,
        num_replicas: 1,
        duplicate_window: 60_000_000_000,
        storage: 'file',
      },
    );
    const again = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: bus.root, stream: { ...settings, name: bus.stream, maxMsgs: 0, maxAgeMs: 60_000 } });
    buses.push(again);
    const second = (await jsm.streams.info(bus.stream)).config;
    assert.deepEqual({ max_msgs: second.max_msgs, max_age: second.max_age }, { max_msgs: -1, max_age: 60_000_000_000 });
  });

  test('replayEvents reads the stream from a sequence on, with each event its stream sequence, then follows new events', async () => {
    const bus = await startBus();
    const events = Array.from({ length: 5 }, (_, i) => event(`REPLAY-${i % 2}`, 'charge_point.heartbeat', { i }));
    for (const e of events) await bus.publishEvent(e);
    const got: Array<StoredBusMessage<GatewayEvent>> = [];
    const sub = await bus.replayEvents<GatewayEvent>(3, (m) => got.push(m));
    await waitFor('three stored events', () => got.length >= 3);
    const later = event('REPLAY-0');
    await bus.publishEvent(later);
    await waitFor('the new event', () => got.length >= 4);
    sub.unsubscribe();
    assert.deepEqual(
      got.map((m) => [m.seq, m.data.eventId]),
      [
        [3, events[2].eventId],
        [4, events[3].eventId],
        [5, events[4].eventId],
        [6, later.eventId],
      ],
    );
    // A filter selects one charger.
    const one: number[] = [];
    const sub2 = await bus.replayEvents<GatewayEvent>(1, (m) => one.push(m.seq), { filterSubject: bus.subjects.eventsOfCharger('REPLAY-1') });
    await waitFor("REPLAY-1's events", () => one.length >= 2);
    sub2.unsubscribe();
    assert.deepEqual(one, [2, 4]);
  });

  test('an event without eventId or chargePointId, or on a malformed event subject, is refused without reaching the stream', async () => {
    const bus = await startBus();
    await assert.rejects(bus.publish(`${bus.root}.events.charge_point.heartbeat`, { chargePointId: 'CP' }), TypeError);
    await assert.rejects(bus.publish(`${bus.root}.events.charge_point.heartbeat`, { eventId: 'x' }), TypeError);
    await assert.rejects(bus.publish(`${bus.root}.events.charge_point.heartbeat.OTHER`, event('CP')), TypeError);
    await assert.rejects(bus.publish(`${bus.root}.events.heartbeat`, event('CP')), TypeError);
    await assert.rejects(bus.publishEvent(event('CP', 'not.two.tokens')), /event type/);
    assert.deepEqual(await subjectCounts(admin, bus.stream), {});
  });
});

/**
 * Publishing against a stand-in for JetStream: the test deletes the bus's stream and answers the publishes
 * itself (a plain subscriber), so it decides when each ack arrives. A plain message the bus sends after the
 * publishes marks, on the same connection, what the bus had sent by then.
 */
describe('NATS bus: publish flow (acks held by the test)', { skip }, () => {
  let admin: NatsConnection;
  before(async () => {
    admin = await connectTo(SHARED_NATS_URL);
  });
  after(async () => {
    await admin.close();
  });

  async function withHeldAcks(options: Partial<NatsBusOptions>, body: (bus: NatsBus, seen: Msg[], sync: (n: number) => Promise<void>) => Promise<void>): Promise<void> {
    const { root, stream } = uniqueNames();
    const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, ackTimeoutMs: 30_000, ...options, stream: { name: stream } });
    await deleteStream(admin, stream);
    const seen: Msg[] = [];
    const sub = admin.subscribe(`${root}.>`, {
      callback: (_err, msg) => {
        seen.push(msg);
      },
    });
    await admin.flush();
    const sync = async (n: number) => {
      await bus.publish(`${root}.sync`, { n });
      await waitFor(`sync ${n}`, () => seen.some((m) => m.subject === `${root}.sync` && m.json<{ n: number }>().n === n));
    };
    try {
      await body(bus, seen, sync);
    } finally {
      sub.unsubscribe();
      await bus.close();
      await deleteStream(admin, stream);
    }
  }

  const label = (m: Msg) => (m.subject.endsWith('.sync') ? `sync${m.json<{ n: number }>().n}` : m.json<GatewayEvent>().payload.label);
  const ack = (m: Msg, seq: number) => m.respond(JSON.stringify({ stream: 'STAND_IN', seq }));

  test('beyond maxInFlight a publish waits for a place, and is sent when an ack frees one', async () => {
    await withHeldAcks({ maxInFlight: 2 }, async (bus, seen, sync) => {
      const a = bus.publishEvent(event('FLOW-A', 'charge_point.heartbeat', { label: 'A' }));
      const b = bus.publishEvent(event('FLOW-B', 'charge_point.heartbeat', { label: 'B' }));
      const c = bus.publishEvent(event('FLOW-C', 'charge_point.heartbeat', { label: 'C' }));
      await waitFor('two publishes', () => seen.length >= 2);
      await sync(1);
      assert.deepEqual(seen.map(label), ['A', 'B', 'sync1']);
      // The msgID header carries the eventId, for JetStream's de-duplication.
      assert.equal(seen[0].headers?.get('Nats-Msg-Id'), seen[0].json<GatewayEvent>().eventId);

      ack(seen[0], 1);
      await a;
      await waitFor('the third publish', () => seen.length >= 4);
      assert.deepEqual(seen.map(label), ['A', 'B', 'sync1', 'C']);
      ack(seen[1], 2);
      ack(seen[3], 3);
      await Promise.all([b, c]);
    });
  });

  test("a charger's next event is sent only after the previous one's ack, and fails when that one fails; a later event starts afresh", async () => {
    await withHeldAcks({}, async (bus, seen, sync) => {
      const a1 = bus.publishEvent(event('LANE-A', 'charge_point.heartbeat', { label: 'A1' }));
      const a2 = bus.publishEvent(event('LANE-A', 'charge_point.heartbeat', { label: 'A2' }));
      const b1 = bus.publishEvent(event('LANE-B', 'charge_point.heartbeat', { label: 'B1' }));
      await waitFor('two publishes', () => seen.length >= 2);
      await sync(1);
      assert.deepEqual(seen.map(label), ['A1', 'B1', 'sync1']);

      seen[0].respond(JSON.stringify({ error: { code: 503, err_code: 10077, description: 'stand-in store failed' } }));
      await assert.rejects(a1, BusUnavailableError);
      await assert.rejects(a2, (err: unknown) => err instanceof BusUnavailableError && /earlier event/.test(err.message));
      await sync(2);
      assert.deepEqual(seen.map(label), ['A1', 'B1', 'sync1', 'sync2']);

      const a3 = bus.publishEvent(event('LANE-A', 'charge_point.heartbeat', { label: 'A3' }));
      await waitFor('A3', () => seen.length >= 5);
      assert.deepEqual(seen.map(label), ['A1', 'B1', 'sync1', 'sync2', 'A3']);
      ack(seen[1], 1);
      ack(seen[4], 2);
      await Promise.all([b1, a3]);
    });
  });

  test('when the waiting line is full too, a publish fails at once with BusUnavailableError', async () => {
    await withHeldAcks({ maxInFlight: 1, maxWaiting: 1 }, async (bus, seen) => {
      const a = bus.publishEvent(event('FULL-A', 'charge_point.heartbeat', { label: 'A' }));
      const b = bus.publishEvent(event('FULL-B', 'charge_point.heartbeat', { label: 'B' }));
      await assert.rejects(bus.publishEvent(event('FULL-C', 'charge_point.heartbeat', { label: 'C' })), BusUnavailableError);
      await waitFor('A', () => seen.length >= 1);
      ack(seen[0], 1);
      await a;
      await waitFor('B', () => seen.length >= 2);
      ack(seen[1], 2);
      await b;
      assert.deepEqual(seen.map(label), ['A', 'B']);
    });
  });
});

describe('NATS bus: requests', { skip }, () => {
  let admin: NatsConnection;
  const buses: NatsBus[] = [];
  before(async () => {
    admin = await connectTo(SHARED_NATS_URL);
  });
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await admin.close();
  });

  async function startBus(root: string, stream: string): Promise<NatsBus> {
    const bus = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, stream: { name: stream } });
    buses.push(bus);
    return bus;
  }

  test('a queue group of two responders answers each request exactly once', async () => {
    const { root, stream } = uniqueNames();
    try {
      const asker = await startBus(root, stream);
      const served: string[] = [];
      const subject = `${root}.requests.Authorize`;
      for (let i = 0; i < 2; i++) {
        const responder = await startBus(root, stream);
        responder.respond(subject, ({ data }) => {
          served.push((data as { id: string }).id);
          return { idTagInfo: { status: 'Accepted' }, echo: (data as { id: string }).id };
        });
      }
      await Promise.all(buses.map((b) => b.flush()));
      const ids = Array.from({ length: 40 }, (_, i) => `req-${i}`);
      const answers = await Promise.all(ids.map((id) => asker.request(subject, { id }, 10_000)));
      assert.deepEqual(
        answers.map((a) => (a as { echo: string }).echo),
        ids,
      );
      assert.deepEqual([...served].sort(), [...ids].sort());
    } finally {
      await deleteStream(admin, stream);
    }
  });

  test('nobody listening: NoRespondersError, not a timeout', async () => {
    const { root, stream } = uniqueNames();
    try {
      const bus = await startBus(root, stream);
      await assert.rejects(bus.request(`${root}.requests.Nobody`, {}, 30_000), NoRespondersError);
    } finally {
      await deleteStream(admin, stream);
    }
  });

  test('a listener that never answers: BusTimeoutError', async () => {
    const { root, stream } = uniqueNames();
    const silent = admin.subscribe(`${root}.requests.Silent`, { callback: () => {} });
    await admin.flush();
    try {
      const bus = await startBus(root, stream);
      await assert.rejects(bus.request(`${root}.requests.Silent`, {}, 300), BusTimeoutError);
    } finally {
      silent.unsubscribe();
      await deleteStream(admin, stream);
    }
  });

  test("a responder that throws: BusResponderError with the responder's message", async () => {
    const { root, stream } = uniqueNames();
    try {
      const bus = await startBus(root, stream);
      bus.respond(`${root}.commands`, () => {
        throw new Error('charger CP-9 is not here');
      });
      await bus.flush();
      await assert.rejects(
        bus.request(`${root}.commands`, { chargePointId: 'CP-9' }, 5000),
        (err: unknown) => err instanceof BusResponderError && err.message === 'charger CP-9 is not here',
      );
    } finally {
      await deleteStream(admin, stream);
    }
  });

  test('beyond maxConcurrentAnswers a request is refused at once, and the one in progress is still answered', async () => {
    const { root, stream } = uniqueNames();
    try {
      const asker = await startBus(root, stream);
      const server = await NatsBus.start({ servers: SHARED_NATS_URL, subjectRoot: root, stream: { name: stream }, maxConcurrentAnswers: 1 });
      buses.push(server);
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let calls = 0;
      server.respond(`${root}.commands`, async () => {
        calls++;
        await held;
        return { ok: true };
      });
      await server.flush();
      const first = asker.request(`${root}.commands`, {}, 10_000);
      await waitFor('the first request to reach the responder', () => calls === 1);
      await assert.rejects(asker.request(`${root}.commands`, {}, 10_000), (err: unknown) => err instanceof BusResponderError && /busy/.test(err.message));
      release();
      assert.deepEqual(await first, { ok: true });
      assert.equal(calls, 1);
    } finally {
      await deleteStream(admin, stream);
    }
  });

  test('subscribe receives plain messages on a pattern, decoded', async () => {
    const { root, stream } = uniqueNames();
    try {
      const bus = await startBus(root, stream);
      const got: Array<[string, unknown]> = [];
      const sub = bus.subscribe(`${root}.commands.>`, (m) => got.push([m.subject, m.data]));
      await bus.flush();
      admin.publish(`${root}.commands.gw1`, JSON.stringify({ action: 'Reset' }));
      admin.publish(`${root}.other`, JSON.stringify({ action: 'no' }));
      admin.publish(`${root}.commands.gw2`, JSON.stringify({ action: 'Unlock' }));
      await waitFor('two messages', () => got.length >= 2);
      sub.unsubscribe();
      assert.deepEqual(got, [
        [`${root}.commands.gw1`, { action: 'Reset' }],
        [`${root}.commands.gw2`, { action: 'Unlock' }],
      ]);
    } finally {
      await deleteStream(admin, stream);
    }
  });
});
