import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-message path. prom-client hashes the label set on every call, which
 * costs more than handling a Heartbeat; here a label set is resolved once into a cell, and counting is one
 * addition. They register on a prom-client Registry like any metric and render in its exposition format.
 */

type Labels = Record<string, string>;

export interface CounterCell {
  readonly labels: Labels;
  value: number;
}

function labelsOf(names: readonly string[], values: readonly string[]): Labels {
  const labels: Labels = {};
  for (const [i, name] of names.entries()) labels[name] = values[i];
  return labels;
}

/**
 * The cell of one label set, made on first use: the lookup both metric kinds share. A metric with one label is
 * keyed by its value as it is, so a caller may look its cell up per count instead of keeping one cache of its own.
 */
function cellFor<C>(cells: Map<string, C>, names: readonly string[], values: string[], make: (labels: Labels) => C): C {
  const key = values.length === 1 ? values[0] : values.join('\u0001');
  let cell = cells.get(key);
  if (cell === undefined) cells.set(key, (cell = make(labelsOf(names, values))));
  return cell;
}

/** A metric whose label sets are cells of one number each: the part counters and gauges share. */
abstract class ValueCells {
  abstract readonly type: 'counter' | 'gauge';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, CounterCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /**
   * The cell for one label set; keep it, or look it up per count, and write `cell.value`. Only for label values the
   * gateway chooses (outcomes, protocols, close causes, profile names), never text from a charger: every label set
   * keeps its cell.
   */
  cell(...values: string[]): CounterCell {
    return cellFor(this.cells, this.labelNames, values, (labels) => ({ labels, value: 0 }));
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.cells.values()].map((c) => ({ labels: c.labels, value: c.value })),
    };
  }

  reset(): void {
    for (const cell of this.cells.values()) cell.value = 0;
  }
}

/** A counter of cells: keep a cell and call `cell.value++`. */
export class HotCounter extends ValueCells {
  readonly type = 'counter';
}

/**
 * A gauge of cells: `cell.value` is set, raised or lowered directly. A gauge without labels has its one cell from
 * the start, so it is exported as 0 before anything sets it, as prom-client's are.
 */
export class HotGauge extends ValueCells {
  readonly type = 'gauge';

  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, labelNames, registry);
    if (labelNames.length === 0) this.cell();
  }
}

export interface HistogramCell {
  readonly labels: Labels;
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  cell(...values: string[]): HistogramCell {
    return cellFor(this.cells, this.labelNames, values, (labels) => ({ labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
  }

  observe(cell: HistogramCell, value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    cell.counts[i]++;
    cell.sum += value;
    cell.count++;
  }

  get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += cell.counts[i];
        values.push({ labels: { ...cell.labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...cell.labels, le: '+Inf' }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const cell of this.cells.values()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
