/**
 * The per-charger CALL rate (ocpp.inboundRate), seen from the charger: its burst is answered, the next CALL gets a
 * GenericError saying the rate, and a charger that keeps going is closed with 1008; the charger beside it is
 * served throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OCPP_VERSIONS } from '../src/ocpp/versions.js';
import { type GatewayHarness, metricValue, startGateway, waitUntil, within } from './helpers/gateway-harness.js';
import { assertAnswersValid, expectCallError, expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

const BURST = 5;
const ABUSE = 3;

describe('per-charger CALL rate', () => {
  let h: GatewayHarness;
  before(async () => {
    // No token comes back while the test runs, so the counts are exact.
    h = await startGateway({ overrides: { ocpp: { inboundRate: { callsPerSec: 0.0001, burst: BURST, abuseRefusals: ABUSE, abuseWindowMs: 60_000 } } } });
  });
  after(async () => {
    await h.stop();
  });

  for (const version of OCPP_VERSIONS) {
    it(`${version}: ${BURST} CALLs answered, then GenericError naming the rate; the ${ABUSE}rd refusal closes with 1008; the charger beside it is served`, async () => {
      const before = await metricValue(h.gateway, 'ocpp_inbound_calls_rate_limited_total');
      const bystander = await OcppClient.connect(h.url, `CALM-${version}`, [version]);
      const client = await OcppClient.connect(h.url, `FAST-${version}`, [version]);
      try {
        for (let i = 0; i < BURST; i++) expectResult(await client.call('Heartbeat', {}));
        for (let i = 1; i < ABUSE; i++) {
          const refused = await client.call('Heartbeat', {});
          const { description } = expectCallError(refused, String(refused[1]), 'GenericError');
          assert.match(description, /rate limit: at most 0\.0001 CALLs a second \(bursts of 5\) per charger/);
          // Refused, not closed yet.
          assert.equal(client.isOpen, true);
          expectResult(await bystander.call('Heartbeat', {}));
        }
        const last = await client.call('Heartbeat', {});
        expectCallError(last, String(last[1]), 'GenericError');
        const closed = await within(client.closed, 5000, 'the abusive charger to be closed');
        assert.equal(closed.code, 1008);
        assert.match(closed.reason, /3 CALLs refused within 60 s for exceeding 0\.0001 CALLs a second/);
        assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rate_limited_total'), before + ABUSE);
        await waitUntil(
          async () => (await metricValue(h.gateway, 'ocpp_disconnects_total', { cause: 'rate_limited' })) === OCPP_VERSIONS.indexOf(version) + 1,
          3000,
          'the close counted as rate_limited',
        );
        assertAnswersValid(version, client);
        // The other charger has its own bucket, untouched.
        expectResult(await bystander.call('Heartbeat', {}));
        assert.equal(h.gateway.sessions.get(`CALM-${version}`)?.state, 'open');
      } finally {
        client.terminate();
        await bystander.close();
      }
    });
  }
});

describe('the default rate', () => {
  it('leaves a burst of 1,000 CALLs from one charger alone (an offline queue replayed)', async () => {
    const h = await startGateway();
    const client = await OcppClient.connect(h.url, 'REPLAY', ['ocpp2.0.1']);
    try {
      for (let i = 0; i < 1000; i++) expectResult(await client.call('Heartbeat', {}));
      assert.equal(await metricValue(h.gateway, 'ocpp_inbound_calls_rate_limited_total'), 0);
    } finally {
      await client.close();
      await h.stop();
    }
  });
});
