/**
 * What a Prometheus text exposition (a /metrics answer) offers to queries: the series names a query can select
 * and the label names each carries. A family's `# TYPE` line names it even before it has a sample; a histogram
 * offers `_bucket`, `_sum` and `_count`. Label names are known only from sample lines, so a labelled metric that
 * never got a value shows its name here but no labels.
 */

export interface Exposition {
  /** Every series name a query may select, e.g. `ocpp_call_duration_seconds_bucket`, `ocpp_messages_total`. */
  names: Set<string>;
  /** Label names seen on each series name's samples (`le` on buckets included). */
  labels: Map<string, Set<string>>;
  /** Family name to its declared type. */
  types: Map<string, string>;
}

const TYPE_LINE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/;
const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g;

export function emptyExposition(): Exposition {
  return { names: new Set(), labels: new Map(), types: new Map() };
}

/** Adds what `text` exposes to `into` (so several scrapes can be merged); throws on a line it cannot read. */
export function readExposition(text: string, into: Exposition = emptyExposition()): Exposition {
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = TYPE_LINE.exec(line);
    if (type) {
      const [, name, kind] = type;
      into.types.set(name, kind);
      into.names.add(name);
      if (kind === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) into.names.add(name + suffix);
      if (kind === 'summary') for (const suffix of ['_sum', '_count']) into.names.add(name + suffix);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = SAMPLE_LINE.exec(line);
    if (!sample) throw new Error(`not a line of the Prometheus text format: ${line}`);
    const [, name, labelText] = sample;
    into.names.add(name);
    let labels = into.labels.get(name);
    if (labels === undefined) into.labels.set(name, (labels = new Set()));
    for (const match of (labelText ?? '').matchAll(LABEL)) labels.add(match[1]);
  }
  return into;
}
