/**
 * The fleet at a glance: the summary once (with its history), then one `stats` snapshot per sampling interval
 * from the dashboard stream. Every number is an aggregate the gateway computed; the page never lists the fleet.
 */
import { ApiError, getJson } from '../api';
import { barChart, lineChart } from '../charts';
import { type Dispose, fill, h } from '../dom';
import { clock, count, ms, rate, total } from '../format';
import { openStream, type StreamState } from '../sse';
import type { DashboardSnapshot, HistorySample, InstanceStats, Percentiles } from '../types';

/** The history the page keeps: the server's window (30 min), whatever the interval. */
const HISTORY_MS = 30 * 60 * 1000;
const MAX_POINTS = 1800;

class History {
  readonly times: number[] = [];
  readonly v16: number[] = [];
  readonly v201: number[] = [];
  readonly inbound: number[] = [];
  readonly outbound: number[] = [];

  add(sample: HistorySample): void {
    const at = Date.parse(sample.at);
    // The stream's first snapshot may repeat the summary's last sample.
    if (this.times.length > 0 && at <= this.times[this.times.length - 1]) return;
    this.times.push(at);
    this.v16.push(sample.connected['ocpp1.6']);
    this.v201.push(sample.connected['ocpp2.0.1']);
    this.inbound.push(sample.inboundPerSecond);
    this.outbound.push(sample.outboundPerSecond);
    let drop = 0;
    while (drop < this.times.length - 1 && (this.times.length - drop > MAX_POINTS || this.times[drop] < at - HISTORY_MS)) drop++;
    if (drop > 0) for (const list of [this.times, this.v16, this.v201, this.inbound, this.outbound]) list.splice(0, drop);
  }
}

function sampleOf(snapshot: DashboardSnapshot): HistorySample {
  return {
    at: snapshot.at,
    connected: snapshot.totals.connected,
    inboundPerSecond: total(snapshot.totals.messagesPerSecond.inbound),
    outboundPerSecond: total(snapshot.totals.messagesPerSecond.outbound),
  };
}

export function overviewView(root: HTMLElement): Dispose {
  const history = new History();
  const status = h('p', { class: 'status', 'data-testid': 'stream-state' }, 'loading…');
  const body = h('div', { class: 'overview' });
  fill(root, h('h1', {}, 'Fleet'), status, body);
  let streamState: StreamState = 'connecting';
  let last: DashboardSnapshot | undefined;
  let disposed = false;

  const showStatus = () => {
    const parts = [streamState === 'open' ? 'live' : streamState];
    if (last !== undefined) parts.push(`${last.mode} mode`, `updated ${clock(last.at)}`, `every ${(last.intervalMs / 1000).toFixed(1)} s`);
    status.textContent = parts.join(' · ');
    status.dataset.state = streamState;
  };

  const show = (snapshot: DashboardSnapshot) => {
    last = snapshot;
    history.add(sampleOf(snapshot));
    fill(body, ...renderSnapshot(snapshot, history));
    showStatus();
  };

  let stream: { close(): void } | undefined;
  void (async () => {
    try {
      const summary = await getJson<DashboardSnapshot>('/api/v1/dashboard/summary');
      if (disposed) return;
      for (const sample of summary.history ?? []) history.add(sample);
      show(summary);
    } catch (err) {
      if (disposed) return;
      if (!(err instanceof ApiError && err.status === 401)) fill(body, h('p', { class: 'error' }, `The summary did not load: ${(err as Error).message}`));
    }
    if (disposed) return;
    stream = openStream('/api/v1/dashboard/stream', {
      onMessage: (message) => {
        if (message.event === 'stats') show(JSON.parse(message.data) as DashboardSnapshot);
      },
      onState: (state) => {
        streamState = state;
        showStatus();
      },
    });
  })();

  return () => {
    disposed = true;
    stream?.close();
  };
}

function renderSnapshot(snapshot: DashboardSnapshot, history: History): HTMLElement[] {
  const t = snapshot.totals;
  const connected = t.connected['ocpp1.6'] + t.connected['ocpp2.0.1'];
  const out: HTMLElement[] = [];
  if (snapshot.missingInstances.length > 0) {
    out.push(
      h('p', { class: 'warning', 'data-testid': 'missing-instances' }, `No answer in time from: ${snapshot.missingInstances.join(', ')} (their numbers are missing)`),
    );
  }
  out.push(
    h(
      'section',
      { class: 'cards' },
      card('Connected', count(connected), 'connected-total'),
      card('OCPP 1.6', count(t.connected['ocpp1.6']), 'connected-ocpp1.6'),
      card('OCPP 2.0.1', count(t.connected['ocpp2.0.1']), 'connected-ocpp2.0.1'),
      card('Messages in /s', rate(total(t.messagesPerSecond.inbound)), 'rate-inbound'),
      card('Messages out /s', rate(total(t.messagesPerSecond.outbound)), 'rate-outbound'),
      card('Command round trip p50 / p99', `${ms(t.callRoundTripMs.p50)} / ${ms(t.callRoundTripMs.p99)}`, 'round-trip'),
    ),
    h(
      'section',
      { class: 'grid2' },
      lineChart(
        'Connected chargers',
        history.times,
        [
          { label: 'OCPP 1.6', className: 'series-a', values: history.v16 },
          { label: 'OCPP 2.0.1', className: 'series-b', values: history.v201 },
        ],
        (v) => count(Math.round(v)),
      ),
      lineChart(
        'Messages per second',
        history.times,
        [
          { label: 'in (from chargers)', className: 'series-a', values: history.inbound },
          { label: 'out (to chargers)', className: 'series-b', values: history.outbound },
        ],
        rate,
      ),
    ),
    h(
      'section',
      { class: 'grid2' },
      barChart('Messages in per second, by action', t.messagesPerSecond.inbound, { format: rate, empty: 'no messages', testId: 'actions-inbound' }),
      barChart('Messages out per second, by action', t.messagesPerSecond.outbound, { format: rate, empty: 'no messages', testId: 'actions-outbound' }),
    ),
    h('section', {}, h('h2', {}, 'CALL round trip (last interval)'), latencyTable(t)),
    h(
      'section',
      { class: 'grid3' },
      barChart('CALLERRORs by code (since start)', t.callErrors, { format: count, empty: 'none', testId: 'call-errors' }),
      barChart('Refused connections by reason (since start)', t.refusals, { format: count, empty: 'none', testId: 'refusals' }),
      barChart(
        'Closes (since start)',
        { outbox: t.closes.outbox, keepalive: t.closes.keepalive, ...(t.closes.other ?? {}) },
        { format: count, empty: 'none', testId: 'closes' },
      ),
    ),
  );
  if (snapshot.mode === 'cluster' || snapshot.instances.length > 1) out.push(h('section', {}, h('h2', {}, 'Instances'), instancesTable(snapshot)));
  return out;
}

function card(label: string, value: string, testId: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value', 'data-testid': testId }, value));
}

function latencyRow(label: string, p: Percentiles | undefined): HTMLElement {
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, label),
    h('td', { class: 'num' }, ms(p?.p50)),
    h('td', { class: 'num' }, ms(p?.p90)),
    h('td', { class: 'num' }, ms(p?.p99)),
    h('td', { class: 'num' }, p === undefined ? '—' : count(p.count)),
  );
}

function latencyTable(t: InstanceStats): HTMLElement {
  return h(
    'table',
    { class: 'data', 'data-testid': 'latency' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), ...['p50', 'p90', 'p99', 'CALLs'].map((c) => h('th', { class: 'num' }, c)))),
    h(
      'tbody',
      {},
      latencyRow('Commands: gateway → charger → answer', t.callRoundTripMs),
      t.inboundCallMs === undefined ? null : latencyRow('Charger CALLs: charger → gateway → answer', t.inboundCallMs),
    ),
  );
}

function instancesTable(snapshot: DashboardSnapshot): HTMLElement {
  const rows = [...snapshot.instances].sort((a, b) => (a.instance < b.instance ? -1 : 1));
  return h(
    'table',
    { class: 'data', 'data-testid': 'instances' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['instance', 'OCPP 1.6', 'OCPP 2.0.1', 'in /s', 'out /s', 'round trip p50', 'p99', 'CALLERRORs', 'refusals', 'outbox closes', 'keepalive closes'].map((c) =>
          h('th', {}, c),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      ...rows.map((i) =>
        h(
          'tr',
          { 'data-instance': i.instance },
          h('th', { scope: 'row' }, i.instance),
          h('td', { class: 'num' }, count(i.connected['ocpp1.6'])),
          h('td', { class: 'num' }, count(i.connected['ocpp2.0.1'])),
          h('td', { class: 'num' }, rate(total(i.messagesPerSecond.inbound))),
          h('td', { class: 'num' }, rate(total(i.messagesPerSecond.outbound))),
          h('td', { class: 'num' }, ms(i.callRoundTripMs.p50)),
          h('td', { class: 'num' }, ms(i.callRoundTripMs.p99)),
          h('td', { class: 'num' }, count(total(i.callErrors))),
          h('td', { class: 'num' }, count(total(i.refusals))),
          h('td', { class: 'num' }, count(i.closes.outbox)),
          h('td', { class: 'num' }, count(i.closes.keepalive)),
        ),
      ),
      ...snapshot.missingInstances.map((name) => h('tr', { class: 'missing' }, h('th', { scope: 'row' }, name), h('td', { colspan: 10 }, 'did not answer in time'))),
    ),
  );
}
