/**
 * The cell-based metrics against prom-client's own classes as the oracle: the same operations must render the
 * same exposition text, so a scrape cannot tell which kind counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { HotCounter, HotGauge } from '../../src/observability/hot-metrics.js';

describe('cell-based metrics render as prom-client renders', () => {
  it('a labelled gauge raised, lowered and set', async () => {
    const hotRegistry = new Registry();
    const hot = new HotGauge('ocpp_connections', 'Open charger connections', ['protocol'], hotRegistry);
    const plainRegistry = new Registry();
    const plain = new Gauge({ name: 'ocpp_connections', help: 'Open charger connections', labelNames: ['protocol'], registers: [plainRegistry] });
    // Nothing counted yet: both render the header alone.
    assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());

    const byProtocol = (protocol: string) => hot.cell(protocol);
    for (let i = 0; i < 3; i++) byProtocol('ocpp1.6').value++;
    byProtocol('ocpp1.6').value--;
    byProtocol('ocpp2.0.1').value = 7;
    plain.labels('ocpp1.6').inc(3);
    plain.labels('ocpp1.6').dec();
    plain.labels('ocpp2.0.1').set(7);
    assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
    assert.match(await hotRegistry.metrics(), /^ocpp_connections\{protocol="ocpp1\.6"\} 2$/m);
  });

  it('a gauge without labels is 0 before anything sets it, then what was set', async () => {
    const hotRegistry = new Registry();
    const hot = new HotGauge('ocpp_handshakes_in_flight', 'Handshakes', [], hotRegistry);
    const plainRegistry = new Registry();
    const plain = new Gauge({ name: 'ocpp_handshakes_in_flight', help: 'Handshakes', registers: [plainRegistry] });
    assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
    assert.match(await hotRegistry.metrics(), /^ocpp_handshakes_in_flight 0$/m);
    hot.cell().value = 12;
    plain.set(12);
    assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
  });

  it('a labelled counter; a reset keeps its label sets at 0', async () => {
    const hotRegistry = new Registry();
    const hot = new HotCounter('ocpp_disconnects_total', 'Disconnects', ['cause'], hotRegistry);
    const plainRegistry = new Registry();
    const plain = new Counter({ name: 'ocpp_disconnects_total', help: 'Disconnects', labelNames: ['cause'], registers: [plainRegistry] });
    const byCause = (cause: string) => hot.cell(cause);
    byCause('charger').value++;
    byCause('charger').value++;
    byCause('keepalive').value++;
    plain.labels('charger').inc(2);
    plain.labels('keepalive').inc();
    assert.equal(await hotRegistry.metrics(), await plainRegistry.metrics());
    hotRegistry.resetMetrics();
    assert.match(await hotRegistry.metrics(), /^ocpp_disconnects_total\{cause="charger"\} 0$/m);
  });

  it('gauges of several workers are summed, as the primary sums their scrapes', async () => {
    const workers = [3, 4].map((open) => {
      const registry = new Registry();
      new HotGauge('ocpp_connections', 'Open charger connections', ['protocol'], registry).cell('ocpp1.6').value = open;
      return registry;
    });
    const summed = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
    assert.match(await summed.metrics(), /^ocpp_connections\{protocol="ocpp1\.6"\} 7$/m);
  });
});
