/**
 * The chargers, one page at a time: the search and the protocol filter run on the server, so the page holds
 * at most PAGE_SIZE rows whatever the size of the fleet.
 */
import { ApiError, getJson } from '../api';
import { type Dispose, fill, h } from '../dom';
import { ago, count, dateTime } from '../format';
import { chargerHref } from '../routes';
import { type ChargerPage, type ListedCharger, PROTOCOLS } from '../types';

const PAGE_SIZE = 50;
const REFRESH_MS = 10_000;
const SEARCH_DELAY_MS = 250;
const MAX_QUERY = 128;

export function chargersView(root: HTMLElement, params: URLSearchParams): Dispose {
  const search = h('input', {
    type: 'search',
    placeholder: 'identity, vendor or model',
    maxlength: MAX_QUERY,
    'aria-label': 'Search chargers',
    'data-testid': 'charger-search',
    value: params.get('q') ?? '',
  });
  const protocol = h(
    'select',
    { 'aria-label': 'Protocol', 'data-testid': 'charger-protocol' },
    h('option', { value: '' }, 'any protocol'),
    ...PROTOCOLS.map((p) => h('option', { value: p, selected: params.get('protocol') === p }, p)),
  );
  const summary = h('p', { class: 'muted', 'data-testid': 'charger-total' });
  const table = h('div');
  const previous = h('button', { type: 'button', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', disabled: true, 'data-testid': 'charger-next' }, 'Next →');
  fill(
    root,
    h('h1', {}, 'Chargers'),
    h('form', { class: 'filters', onsubmit: (e: Event) => e.preventDefault() }, search, protocol),
    summary,
    table,
    h('nav', { class: 'pager' }, previous, next),
  );

  // Cursors of the pages before this one, so Previous can go back without the server keeping anything.
  const cursors: Array<string | undefined> = [undefined];
  let nextCursor: string | undefined;
  let generation = 0;
  let disposed = false;

  const load = async () => {
    const mine = ++generation;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const q = search.value.trim().slice(0, MAX_QUERY);
    if (q !== '') query.set('q', q);
    if (protocol.value !== '') query.set('protocol', protocol.value);
    const cursor = cursors[cursors.length - 1];
    if (cursor !== undefined) query.set('cursor', cursor);
    try {
      const page = await getJson<ChargerPage>(`/api/v1/charge-points?${query}`);
      if (mine !== generation || disposed) return;
      nextCursor = page.nextCursor;
      const first = (cursors.length - 1) * PAGE_SIZE;
      summary.textContent =
        page.items.length === 0
          ? `No chargers match (${count(page.total)} in all)`
          : `${first + 1}–${first + page.items.length} of ${count(page.total)} chargers${page.partial ? ` (missing: ${(page.missingInstances ?? []).join(', ')})` : ''}`;
      fill(table, chargerTable(page.items));
      previous.disabled = cursors.length === 1;
      next.disabled = nextCursor === undefined;
    } catch (err) {
      if (mine !== generation || disposed) return;
      if (!(err instanceof ApiError && err.status === 401)) summary.textContent = `The list did not load: ${(err as Error).message}`;
    }
  };

  /** A new search starts at the first page, and the address keeps it (a reload or a shared link finds the same). */
  const restart = () => {
    cursors.length = 1;
    const query = new URLSearchParams();
    if (search.value.trim() !== '') query.set('q', search.value.trim());
    if (protocol.value !== '') query.set('protocol', protocol.value);
    const hash = `#/chargers${query.size > 0 ? `?${query}` : ''}`;
    if (location.hash !== hash) history.replaceState(null, '', hash);
    void load();
  };

  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(restart, SEARCH_DELAY_MS);
  });
  protocol.addEventListener('change', restart);
  next.addEventListener('click', () => {
    if (nextCursor === undefined) return;
    cursors.push(nextCursor);
    void load();
  });
  previous.addEventListener('click', () => {
    if (cursors.length > 1) cursors.pop();
    void load();
  });
  // "Last message" and "status" move on their own; one page every few seconds is cheap, the fleet is never read.
  const refresh = setInterval(() => {
    if (!document.hidden) void load();
  }, REFRESH_MS);

  void load();
  search.focus();
  return () => {
    disposed = true;
    clearTimeout(searchTimer);
    clearInterval(refresh);
  };
}

function chargerTable(items: ListedCharger[]): HTMLElement {
  const now = Date.now();
  return h(
    'table',
    { class: 'data', 'data-testid': 'charger-table' },
    h('thead', {}, h('tr', {}, ...['identity', 'protocol', 'instance', 'connected since', 'last message', 'vendor / model', 'status'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...items.map((c) =>
        h(
          'tr',
          { 'data-identity': c.identity },
          h('td', {}, h('a', { href: chargerHref(c.identity) }, c.identity)),
          h('td', {}, c.protocol),
          h('td', {}, c.instance ?? '—'),
          h('td', {}, dateTime(c.connectedAt)),
          h('td', { title: dateTime(c.lastSeen) }, ago(c.lastSeen, now)),
          h('td', {}, [c.boot?.vendor, c.boot?.model].filter(Boolean).join(' / ') || '—'),
          h('td', {}, c.status ?? '—'),
        ),
      ),
    ),
  );
}
