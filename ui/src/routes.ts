/** The page's addresses: hash routes, so the server serves one index.html and needs no fallback. */

export type Route = { name: 'overview' } | { name: 'chargers'; params: URLSearchParams } | { name: 'charger'; id: string };

export function chargerHref(id: string): string {
  return `#/chargers/${encodeURIComponent(id)}`;
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const mark = path.indexOf('?');
  const pathname = mark === -1 ? path : path.slice(0, mark);
  const query = mark === -1 ? '' : path.slice(mark + 1);
  const charger = /^\/chargers\/(.+)$/.exec(pathname);
  if (charger !== null) {
    try {
      return { name: 'charger', id: decodeURIComponent(charger[1]) };
    } catch {
      return { name: 'chargers', params: new URLSearchParams() };
    }
  }
  if (pathname === '/chargers' || pathname === '/chargers/') return { name: 'chargers', params: new URLSearchParams(query) };
  return { name: 'overview' };
}
