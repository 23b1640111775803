/**
 * A small PromQL reader for checking the shipped alert rules and dashboard against what the gateway exports.
 * It is not a full parser: it tokenizes an expression, checks that brackets nest and strings end, and finds
 * every metric name and every label name the expression relies on (matchers, by/without, on/ignoring,
 * group_left/group_right). Names it does not know as functions make it throw, so a typo in a function name
 * is caught here rather than read as a metric.
 */

export type TokenKind = 'identifier' | 'number' | 'duration' | 'string' | 'punct' | 'operator';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset in the expression, for error messages. */
  at: number;
}

/** A metric selected by the expression, with the label names its `{...}` matchers use. */
export interface Selector {
  metric: string;
  matcherLabels: string[];
}

/** Label names of one grouping clause and the metrics they must be found on. */
export interface Grouping {
  clause: 'by' | 'without' | 'on' | 'ignoring' | 'group_left' | 'group_right';
  labels: string[];
  /**
   * by/without: every metric of the aggregated expression must carry each label (`all`).
   * on/ignoring/group_*: the label must exist on some metric of the binary expression (`any`): a
   * group_left label comes from one side only.
   */
  mustBeOn: 'all' | 'any';
  metrics: string[];
}

export interface PromqlReferences {
  selectors: Selector[];
  groupings: Grouping[];
}

export class PromqlError extends Error {
  constructor(message: string, expr: string, at: number) {
    super(`${message} at offset ${at} of: ${expr}`);
  }
}

const AGGREGATIONS = new Set(['sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'limitk', 'limit_ratio']);

/** PromQL's functions (Prometheus 2.x/3.x). A name followed by `(` that is in neither set is an error. */
const FUNCTIONS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'avg_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'cos',
  'cosh',
  'count_over_time',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'deg',
  'delta',
  'deriv',
  'end',
  'exp',
  'floor',
  'histogram_avg',
  'histogram_count',
  'histogram_fraction',
  'histogram_quantile',
  'histogram_stddev',
  'histogram_stdvar',
  'histogram_sum',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'irate',
  'label_join',
  'label_replace',
  'last_over_time',
  'ln',
  'log10',
  'log2',
  'mad_over_time',
  'max_over_time',
  'min_over_time',
  'minute',
  'month',
  'pi',
  'predict_linear',
  'present_over_time',
  'quantile_over_time',
  'rad',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sin',
  'sinh',
  'sort',
  'sort_by_label',
  'sort_by_label_desc',
  'sort_desc',
  'sqrt',
  'start',
  'stddev_over_time',
  'stdvar_over_time',
  'sum_over_time',
  'tan',
  'tanh',
  'time',
  'timestamp',
  'vector',
  'year',
]);

/** Words that are never metric names where they stand: operators, modifiers and special numbers. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
const GROUPING_CLAUSES = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

const IDENTIFIER = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const DURATION = /^(?:[0-9]+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_])/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)/;
const OPERATORS = ['==', '!=', '>=', '<=', '=~', '!~', '=', '>', '<', '+', '-', '*', '/', '%', '^', '@'];
const PUNCT = '(){}[],:';

/** Splits an expression into tokens; throws on an unterminated string or a character PromQL has no use for. */
export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  // Inside [...] a colon separates a subquery's range from its step; elsewhere it may be part of a metric name.
  let rangeDepth = 0;
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (c === '[') rangeDepth++;
    else if (c === ']') rangeDepth = Math.max(0, rangeDepth - 1);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    const rest = expr.slice(i);
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) {
        // Raw (backtick) strings have no escapes.
        if (expr[j] === '\\' && c !== '`') j++;
        if (expr[j] === '\n' && c !== '`') throw new PromqlError('line break inside a string', expr, i);
        j++;
      }
      if (j >= expr.length) throw new PromqlError('unterminated string', expr, i);
      tokens.push({ kind: 'string', text: expr.slice(i, j + 1), at: i });
      i = j + 1;
      continue;
    }
    const duration = DURATION.exec(rest);
    if (duration) {
      tokens.push({ kind: 'duration', text: duration[0], at: i });
      i += duration[0].length;
      continue;
    }
    const number = NUMBER.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0], at: i });
      i += number[0].length;
      continue;
    }
    const identifier = rangeDepth > 0 && c === ':' ? null : IDENTIFIER.exec(rest);
    if (identifier) {
      tokens.push({ kind: 'identifier', text: identifier[0], at: i });
      i += identifier[0].length;
      continue;
    }
    const operator = OPERATORS.find((op) => rest.startsWith(op));
    if (operator !== undefined) {
      tokens.push({ kind: 'operator', text: operator, at: i });
      i += operator.length;
      continue;
    }
    if (PUNCT.includes(c)) {
      tokens.push({ kind: 'punct', text: c, at: i });
      i++;
      continue;
    }
    throw new PromqlError(`unexpected character ${JSON.stringify(c)}`, expr, i);
  }
  return tokens;
}

const CLOSER: Record<string, string> = { '(': ')', '{': '}', '[': ']' };

/** Index of each bracket's partner; throws when brackets do not nest or do not close. */
function matchBrackets(expr: string, tokens: Token[]): Map<number, number> {
  const partner = new Map<number, number>();
  const open: number[] = [];
  tokens.forEach((t, i) => {
    if (t.kind !== 'punct') return;
    if (t.text in CLOSER) open.push(i);
    else if (t.text === ')' || t.text === '}' || t.text === ']') {
      const o = open.pop();
      if (o === undefined) throw new PromqlError(`unmatched ${t.text}`, expr, t.at);
      if (CLOSER[tokens[o].text] !== t.text) throw new PromqlError(`${tokens[o].text} closed by ${t.text}`, expr, t.at);
      partner.set(o, i);
      partner.set(i, o);
    }
  });
  const unclosed = open.pop();
  if (unclosed !== undefined) throw new PromqlError(`unclosed ${tokens[unclosed].text}`, expr, tokens[unclosed].at);
  return partner;
}

/** Throws unless brackets nest and close, and strings end. */
export function checkBalanced(expr: string): void {
  matchBrackets(expr, tokenize(expr));
}

const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;

/** The label names of a `( a, b )` list starting at `open`; throws on anything but identifiers and commas. */
function labelList(expr: string, tokens: Token[], open: number, close: number): string[] {
  const labels: string[] = [];
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i];
    if (isPunct(t, ',')) continue;
    if (t.kind !== 'identifier' || t.text.includes(':')) throw new PromqlError(`expected a label name, found ${t.text}`, expr, t.at);
    labels.push(t.text);
  }
  return labels;
}

/** The label names of a `{ name op "value", ... }` block; a `__name__` matcher is refused (write the name). */
function matcherLabels(expr: string, tokens: Token[], open: number, close: number): string[] {
  const labels: string[] = [];
  let i = open + 1;
  while (i < close) {
    const name = tokens[i];
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (name.kind !== 'identifier' || op?.kind !== 'operator' || !['=', '!=', '=~', '!~'].includes(op.text) || value?.kind !== 'string') {
      throw new PromqlError('expected a label matcher like name="value"', expr, name.at);
    }
    if (name.text === '__name__') throw new PromqlError('select the metric by its name, not a __name__ matcher', expr, name.at);
    labels.push(name.text);
    i += 3;
    if (i < close) {
      if (!isPunct(tokens[i], ',')) throw new PromqlError('expected , between label matchers', expr, tokens[i].at);
      i++;
    }
  }
  return labels;
}

/**
 * Every metric and label name an expression relies on. A name is a metric when it is an identifier that is not
 * followed by `(`, is not a keyword, and is not inside a label list or a matcher block.
 */
export function references(expr: string): PromqlReferences {
  const tokens = tokenize(expr);
  const partner = matchBrackets(expr, tokens);
  // Each selector with the token index it stands at, so a grouping can find the metrics of its own scope.
  const selectors: Array<Selector & { index: number }> = [];
  const pending: Array<{ clause: Grouping['clause']; labels: string[]; scope: [number, number] | 'all' }> = [];

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (isPunct(t, '{')) {
      // A matcher block with no metric name before it (`{job="x"}`) selects by labels alone: nothing to check.
      const close = partner.get(i) as number;
      const metricBefore = selectors.at(-1);
      const labels = matcherLabels(expr, tokens, i, close);
      if (metricBefore !== undefined && metricBefore.index === i - 1) metricBefore.matcherLabels.push(...labels);
      else throw new PromqlError('a matcher block without a metric name', expr, t.at);
      i = close;
      continue;
    }
    if (isPunct(t, '[')) {
      i = partner.get(i) as number;
      continue;
    }
    if (t.kind !== 'identifier') continue;
    const word = t.text.toLowerCase();
    const next = tokens[i + 1];

    if (GROUPING_CLAUSES.has(word)) {
      const clause = word as Grouping['clause'];
      if (!isPunct(next, '(')) {
        // group_left/group_right may stand without a label list.
        if (clause === 'group_left' || clause === 'group_right') continue;
        throw new PromqlError(`${clause} needs a label list`, expr, t.at);
      }
      const close = partner.get(i + 1) as number;
      const labels = labelList(expr, tokens, i + 1, close);
      if (clause === 'by' || clause === 'without') {
        pending.push({ clause, labels, scope: aggregationArgument(expr, tokens, partner, i, close) });
      } else {
        pending.push({ clause, labels, scope: 'all' });
      }
      i = close;
      continue;
    }
    if (KEYWORDS.has(word)) {
      // `offset 5m` and `offset -5m`: the duration is skipped as it comes.
      continue;
    }
    if (isPunct(next, '(')) {
      if (!AGGREGATIONS.has(t.text) && !FUNCTIONS.has(t.text)) throw new PromqlError(`unknown function ${t.text}`, expr, t.at);
      continue;
    }
    if (AGGREGATIONS.has(t.text) && next?.kind === 'identifier' && (next.text === 'by' || next.text === 'without')) continue;
    selectors.push({ metric: t.text, matcherLabels: [], index: i });
  }

  const groupings: Grouping[] = pending.map(({ clause, labels, scope }) => {
    const inScope = scope === 'all' ? selectors : selectors.filter((s) => s.index > scope[0] && s.index < scope[1]);
    const mustBeOn: Grouping['mustBeOn'] = clause === 'by' || clause === 'without' ? 'all' : 'any';
    return { clause, labels, mustBeOn, metrics: [...new Set(inScope.map((s) => s.metric))] };
  });
  return { selectors: selectors.map(({ metric, matcherLabels }) => ({ metric, matcherLabels })), groupings };
}

/**
 * The token range (exclusive) of the expression a by/without clause groups: `sum by (l) ( ARG )` or
 * `sum ( ARG ) by (l)`.
 */
function aggregationArgument(expr: string, tokens: Token[], partner: Map<number, number>, clauseAt: number, listClose: number): [number, number] {
  const before = tokens[clauseAt - 1];
  if (before?.kind === 'identifier' && AGGREGATIONS.has(before.text)) {
    if (!isPunct(tokens[listClose + 1], '(')) throw new PromqlError(`${before.text} ${tokens[clauseAt].text}(...) needs its argument`, expr, tokens[clauseAt].at);
    return [listClose + 1, partner.get(listClose + 1) as number];
  }
  if (isPunct(before, ')')) {
    const open = partner.get(clauseAt - 1) as number;
    const name = tokens[open - 1];
    if (name?.kind === 'identifier' && AGGREGATIONS.has(name.text)) return [open, clauseAt - 1];
  }
  throw new PromqlError(`${tokens[clauseAt].text} must follow an aggregation`, expr, tokens[clauseAt].at);
}
