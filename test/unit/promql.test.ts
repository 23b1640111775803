/**
 * The PromQL reader the monitoring test relies on, on the expressions that trip naive readers: label names that
 * look like functions or keywords, strings holding brackets and metric-like text, both placements of by(),
 * subqueries, offsets and @ modifiers, and every way an expression can be unbalanced.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkBalanced, type PromqlReferences, references, tokenize } from '../helpers/promql.js';

const metrics = (refs: PromqlReferences) => refs.selectors.map((s) => s.metric);

describe('PromQL references', () => {
  test('a quantile over a histogram: the bucket metric, its matcher label and the by() labels scoped to it', () => {
    const refs = references('histogram_quantile(0.99, sum by (le, action) (rate(ocpp_call_duration_seconds_bucket{direction="in"}[5m])))');
    assert.deepEqual(refs, {
      selectors: [{ metric: 'ocpp_call_duration_seconds_bucket', matcherLabels: ['direction'] }],
      groupings: [{ clause: 'by', labels: ['le', 'action'], mustBeOn: 'all', metrics: ['ocpp_call_duration_seconds_bucket'] }],
    });
  });

  test('by() after the aggregation groups only its own argument; ignoring() spans the whole binary expression', () => {
    const refs = references('sum(rate(a_total[5m])) by (code) / ignoring(code) group_left sum(rate(b_total[5m]))');
    assert.deepEqual(metrics(refs), ['a_total', 'b_total']);
    assert.deepEqual(refs.groupings, [
      { clause: 'by', labels: ['code'], mustBeOn: 'all', metrics: ['a_total'] },
      { clause: 'ignoring', labels: ['code'], mustBeOn: 'any', metrics: ['a_total', 'b_total'] },
    ]);
  });

  test('label names spelled like functions and keywords inside {} are labels, not metrics', () => {
    const refs = references('x_total{on="1", by!="2", rate=~"3", sum!~"4"}');
    assert.deepEqual(refs, { selectors: [{ metric: 'x_total', matcherLabels: ['on', 'by', 'rate', 'sum'] }], groupings: [] });
  });

  test('strings may hold brackets and metric-like words without counting as either', () => {
    const expr = 'label_replace(up, "dst", "rate(fake_total[5m]) {", "src", `(.*)\\`)';
    checkBalanced(expr);
    assert.deepEqual(metrics(references(expr)), ['up']);
  });

  test('offset, @ modifiers, bool and set operators name no metric', () => {
    assert.deepEqual(metrics(references('rate(a[5m] offset 1h) - rate(a[5m] @ end()) > bool 0 and on(instance) b unless c')), ['a', 'a', 'b', 'c']);
    assert.deepEqual(metrics(references('sum(x offset -10m)')), ['x']);
  });

  test('numbers, compound durations and subqueries are not metrics', () => {
    assert.deepEqual(metrics(references('x > 1e3 and y < 0x1F and max_over_time(z[1h30m:1m]) > .5')), ['x', 'y', 'z']);
    assert.deepEqual(
      tokenize('z[1h30m:100ms]').map((t) => t.kind),
      ['identifier', 'punct', 'duration', 'punct', 'duration', 'punct'],
    );
  });

  test('nested aggregations: the outer by() reaches the metrics of the inner one', () => {
    const refs = references('max by (instance) (sum by (instance, code) (rate(c_total[5m])))');
    assert.deepEqual(
      refs.groupings.map((g) => [g.labels, g.metrics]),
      [
        [['instance'], ['c_total']],
        [['instance', 'code'], ['c_total']],
      ],
    );
  });

  test('without(), topk, count_values, recording-rule names with colons and comments', () => {
    assert.deepEqual(references('sum without (le) (x_bucket)').groupings, [{ clause: 'without', labels: ['le'], mustBeOn: 'all', metrics: ['x_bucket'] }]);
    assert.deepEqual(metrics(references('topk(3, sum by (action) (rate(m_total[5m])))')), ['m_total']);
    assert.deepEqual(metrics(references('count_values("version", build_info)')), ['build_info']);
    assert.deepEqual(metrics(references('# the ratio\njob:requests:rate5m / 2 # trailing')), ['job:requests:rate5m']);
  });

  test('a by() clause directly after the aggregation name, with no argument in between', () => {
    const refs = references('sum by (family) (rate(f_total[5m])) / sum by (family) (rate(g_count[5m]))');
    assert.deepEqual(
      refs.groupings.map((g) => g.metrics),
      [['f_total'], ['g_count']],
    );
  });
});

describe('PromQL refusals', () => {
  const refused = (expr: string, message: RegExp) => assert.throws(() => references(expr), message, expr);

  test('brackets that do not close or do not nest', () => {
    refused('sum(rate(x[5m])', /unclosed \(/);
    refused('sum(x]', /\( closed by \]/);
    refused('x{a="b"}}', /unmatched \}/);
    refused('rate(x[5m)]', /\[ closed by \)/);
    assert.throws(() => checkBalanced('(('), /unclosed \(/);
  });

  test('an unterminated string and a stray character', () => {
    refused('x{a="b}', /unterminated string/);
    refused('x ; y', /unexpected character ";"/);
  });

  test('a misspelled function is not taken for a metric', () => {
    refused('rat(x[5m])', /unknown function rat/);
  });

  test('by() must belong to an aggregation, and a label list holds only label names', () => {
    refused('rate(x[5m]) by (a)', /by must follow an aggregation/);
    refused('sum by (a, "b") (x)', /expected a label name, found "b"/);
  });

  test('matchers need a metric name, a label, an operator and a string; __name__ is refused', () => {
    refused('{job="x"}', /a matcher block without a metric name/);
    refused('x{a=1}', /expected a label matcher/);
    refused('x{__name__="y"}', /not a __name__ matcher/);
    refused('x{a="1" b="2"}', /expected , between label matchers/);
  });
});
