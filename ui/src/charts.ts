/**
 * Hand-drawn SVG charts: a line chart for values over time and horizontal bars for values by name. They draw
 * what they are given and nothing more; callers pass aggregates (never one point per charger).
 */
import { type Child, h, s } from './dom';
import { clock } from './format';

export interface Series {
  label: string;
  /** CSS class giving the line its colour (`.series-a`, `.series-b`, ...). */
  className: string;
  values: number[];
}

/** The smallest 1, 2 or 5 times a power of ten at or above `v`, so the axis reads in round numbers. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (v <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

const W = 600;
const H = 180;
const PAD = { left: 44, right: 10, top: 12, bottom: 22 };

/** Lines over time; `times` (ms since the epoch) and every series' values are index-aligned. */
export function lineChart(title: string, times: number[], series: Series[], format: (v: number) => string): HTMLElement {
  const n = times.length;
  const max = niceCeil(Math.max(0, ...series.flatMap((x) => x.values)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (n <= 1 ? innerW : (i / (n - 1)) * innerW);
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;

  const grid: Child[] = [];
  for (const v of [0, max / 2, max]) {
    grid.push(s('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    grid.push(s('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  if (n > 0) {
    grid.push(s('text', { class: 'axis', x: PAD.left, y: H - 6 }, clock(times[0])));
    grid.push(s('text', { class: 'axis', x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, clock(times[n - 1])));
  }
  const lines = series.map((line) => {
    const points = line.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    return s('polyline', { class: `line ${line.className}`, points });
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, preserveAspectRatio: 'none' }, ...grid, ...lines);
  const legend = h(
    'ul',
    { class: 'legend' },
    ...series.map((line) => h('li', {}, h('span', { class: `swatch ${line.className}` }), `${line.label}: `, h('strong', {}, n > 0 ? format(line.values[n - 1]) : '—'))),
  );
  return h('figure', { class: 'chart' }, h('figcaption', {}, title), svg, legend);
}

export interface BarOptions {
  format: (v: number) => string;
  /** Bars shown; the rest are summed into one "other" bar so the chart stays small for any number of names. */
  limit?: number;
  empty?: string;
  /** data-testid of the list, for tests and for people reading the DOM. */
  testId?: string;
}

/** Horizontal bars, largest first. */
export function barChart(title: string, values: Record<string, number>, options: BarOptions): HTMLElement {
  const limit = options.limit ?? 12;
  const entries = Object.entries(values)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = entries.slice(0, limit);
  const rest = entries.slice(limit);
  if (rest.length > 0) shown.push([`other (${rest.length})`, rest.reduce((sum, [, v]) => sum + v, 0)]);
  const max = Math.max(0, ...shown.map(([, v]) => v));
  const body =
    shown.length === 0
      ? h('p', { class: 'muted' }, options.empty ?? 'none')
      : h(
          'table',
          { class: 'bars', 'data-testid': options.testId },
          h(
            'tbody',
            {},
            ...shown.map(([label, v]) =>
              h(
                'tr',
                { 'data-name': label },
                h('th', { scope: 'row' }, label),
                h(
                  'td',
                  { class: 'bar' },
                  s(
                    'svg',
                    { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
                    s('rect', { x: 0, y: 1, height: 8, width: max > 0 ? Math.max(0.5, (v / max) * 100).toFixed(2) : 0 }),
                  ),
                ),
                h('td', { class: 'num' }, options.format(v)),
              ),
            ),
          ),
        );
  return h('figure', { class: 'chart' }, h('figcaption', {}, title), body);
}
