/**
 * One charger: what it last reported (connectors, open transactions, schema refusals), its events as they
 * happen, a command form for its OCPP version, and its flight recorder.
 */
import { ApiError, chargerPath, getJson } from '../api';
import { commandForm } from '../command-form';
import { type Dispose, fill, h } from '../dom';
import { ago, clock, dateTime } from '../format';
import { recorderPanel } from '../recorder';
import { openStream } from '../sse';
import type { ChargerDetail, GatewayEvent } from '../types';

const MAX_EVENTS = 100;
const EVENT_CHARS = 400;
const REFRESH_MS = 15_000;
/** Events that change what the detail shows: reload it shortly after (coalesced). */
const DETAIL_EVENTS = /^(connector\.|transaction\.|charge_point\.)/;

export function chargerView(root: HTMLElement, id: string): Dispose {
  const header = h('div', { class: 'charger-header' });
  const state = h('div', { 'data-testid': 'charger-state' }, h('p', { class: 'muted' }, 'loading…'));
  const commands = h('div', {}, h('p', { class: 'muted' }, 'The command form appears when the charger is connected.'));
  const events = h('ol', { class: 'events', 'data-testid': 'charger-events', reversed: true });
  const eventsState = h('span', { class: 'muted', 'data-testid': 'charger-events-state' });
  const recorder = recorderPanel(id);
  fill(
    root,
    h('p', {}, h('a', { href: '#/chargers' }, '← Chargers')),
    h('h1', { 'data-testid': 'charger-identity' }, id),
    header,
    h(
      'div',
      { class: 'grid2' },
      h('section', {}, state),
      h('section', {}, h('h2', {}, 'Send a command'), commands),
      h('section', {}, h('h2', {}, 'Events ', eventsState), events),
      h('section', {}, h('h2', {}, 'Flight recorder'), recorder.element),
    ),
  );

  let disposed = false;
  let formProtocol: string | undefined;
  let reloadTimer: ReturnType<typeof setTimeout> | undefined;

  const load = async () => {
    try {
      const detail = await getJson<ChargerDetail>(chargerPath(id));
      if (disposed) return;
      fill(header, headerOf(detail));
      fill(state, ...stateOf(detail));
      // The form is built once per protocol: a refresh must not wipe what the operator is typing.
      if (formProtocol !== detail.protocol) {
        formProtocol = detail.protocol;
        fill(commands, commandForm(id, detail.protocol));
      }
    } catch (err) {
      if (disposed) return;
      if (err instanceof ApiError && err.code === 'DEVICE_OFFLINE') {
        fill(header, h('p', { class: 'warning', 'data-testid': 'charger-offline' }, 'Not connected now. Its recorded frames stay available below for a while.'));
        fill(state);
      } else if (!(err instanceof ApiError && err.status === 401)) {
        fill(header, h('p', { class: 'error' }, `The charger did not load: ${(err as Error).message}`));
      }
    }
  };
  const reloadSoon = () => {
    if (reloadTimer === undefined) {
      reloadTimer = setTimeout(() => {
        reloadTimer = undefined;
        void load();
      }, 500);
    }
  };

  const stream = openStream(`/api/v1/events?chargePointId=${encodeURIComponent(id)}`, {
    resume: true,
    onMessage: (message) => {
      let event: GatewayEvent;
      try {
        event = JSON.parse(message.data) as GatewayEvent;
      } catch {
        return;
      }
      // `end` and `overflow` close a stream; the client reconnects by itself.
      if (typeof event.eventType !== 'string') return;
      events.prepend(eventItem(event));
      while (events.childElementCount > MAX_EVENTS) events.lastElementChild?.remove();
      if (DETAIL_EVENTS.test(event.eventType)) reloadSoon();
    },
    onState: (s) => {
      eventsState.textContent = s === 'open' ? '(live)' : `(${s})`;
      eventsState.dataset.state = s;
    },
  });
  const refresh = setInterval(() => {
    if (!document.hidden) void load();
  }, REFRESH_MS);

  void load();
  return () => {
    disposed = true;
    stream.close();
    recorder.dispose();
    clearInterval(refresh);
    clearTimeout(reloadTimer);
  };
}

function headerOf(c: ChargerDetail): HTMLElement {
  const rows: Array<[string, string, string?]> = [
    ['protocol', c.protocol, 'charger-protocol-value'],
    ['instance', c.instance ?? '—'],
    ['connected since', dateTime(c.connectedAt)],
    ['last message', `${ago(c.lastSeen)} (${clock(c.lastSeen)})`],
    ['address', c.remoteAddress],
    ['security profile', String(c.securityProfile)],
    ['vendor / model', [c.boot?.vendor, c.boot?.model].filter(Boolean).join(' / ') || '—', 'charger-model'],
    ['firmware', c.boot?.firmwareVersion ?? '—'],
    ['serial number', c.boot?.serialNumber ?? '—'],
    ['boot', c.boot ? `${c.boot.status ?? '?'} at ${dateTime(c.boot.at)}` : 'no BootNotification yet'],
  ];
  if (c.compat) rows.push(['compatibility profile', `${c.compat.profile} (${c.compat.reason})`]);
  return h('dl', { class: 'facts' }, ...rows.flatMap(([k, v, testId]) => [h('dt', {}, k), h('dd', { 'data-testid': testId }, v)]));
}

function stateOf(c: ChargerDetail): HTMLElement[] {
  return [
    h('h2', {}, 'Connectors'),
    c.connectors.length === 0
      ? h('p', { class: 'muted' }, 'No status reported yet.')
      : h(
          'table',
          { class: 'data', 'data-testid': 'connectors' },
          h('thead', {}, h('tr', {}, ...['connector', 'status', 'error code', 'reported'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            ...c.connectors.map((s) =>
              h('tr', { 'data-key': s.key }, h('td', {}, s.key), h('td', {}, s.status ?? '—'), h('td', {}, s.errorCode ?? '—'), h('td', {}, dateTime(s.timestamp))),
            ),
          ),
        ),
    h('h2', {}, 'Open transactions'),
    c.transactions.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : h(
          'table',
          { class: 'data', 'data-testid': 'transactions' },
          h('thead', {}, h('tr', {}, ...['transaction', 'connector', 'id token', 'started', 'meter start (Wh)', 'updated'].map((t) => h('th', {}, t)))),
          h(
            'tbody',
            {},
            ...c.transactions.map((t) =>
              h(
                'tr',
                {},
                h('td', {}, t.transactionId),
                h('td', {}, t.evseId === null ? String(t.connectorId ?? '—') : `${t.evseId}/${t.connectorId ?? '—'}`),
                h('td', {}, t.idToken ? `${t.idToken.idToken} (${t.idToken.type})` : '—'),
                h('td', {}, dateTime(t.startedAt)),
                h('td', { class: 'num' }, t.meterStart ?? '—'),
                h('td', {}, dateTime(t.updatedAt)),
              ),
            ),
          ),
        ),
    ...(c.refusals.length === 0
      ? []
      : [
          h('h2', {}, 'CALLs the schema refused'),
          h(
            'ul',
            { class: 'refusals' },
            ...c.refusals.map((r) => h('li', {}, `${clock(r.at)} ${r.action} → ${r.errorCode}: ${r.paths.map((p) => `${p.path || '/'} (${p.keyword})`).join(', ')}`)),
          ),
        ]),
  ];
}

function eventItem(event: GatewayEvent): HTMLElement {
  const payload = JSON.stringify(event.payload);
  return h(
    'li',
    { 'data-event-type': event.eventType },
    h('span', { class: 'nowrap muted' }, clock(event.timestamp)),
    ' ',
    h('strong', {}, event.eventType),
    ' ',
    h('code', {}, payload.length > EVENT_CHARS ? `${payload.slice(0, EVENT_CHARS)}…` : payload),
  );
}
