/**
 * `policy.actions` names only the actions an operator wants to change: every other action keeps its default
 * policy. Checked through the config layers and through a real gateway whose backend answers on the bus.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from './helpers/gateway-harness.js';
import { expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';
import { assertValidConf } from './helpers/ocpp-schema.js';

const T = () => new Date().toISOString();

describe('policy.actions merges per action with the defaults', () => {
  it('a YAML file overriding StartTransaction leaves Heartbeat local and BootNotification, Authorize backend', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-policy-'));
    try {
      await writeFile(join(dir, 'application.yaml'), 'policy:\n  actions:\n    StartTransaction: local\n    MeterValues: backend\n');
      const config = loadConfig({ configDir: dir, env: {} });
      assert.deepEqual(config.policy.actions, {
        Heartbeat: 'local',
        BootNotification: 'backend',
        Authorize: 'backend',
        StartTransaction: 'local',
        MeterValues: 'backend',
      });
      assert.equal(config.policy.default, 'event');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a running gateway with StartTransaction overridden to local still asks the backend for BootNotification and Authorize', async () => {
    const h = await startGateway({ overrides: { policy: { actions: { StartTransaction: 'local' } } } });
    const asked: string[] = [];
    const subs = [
      h.gateway.bus.respond('gateway.requests.BootNotification', () => {
        asked.push('BootNotification');
        return { status: 'Accepted', currentTime: T(), interval: 77 };
      }),
      h.gateway.bus.respond('gateway.requests.Authorize', () => {
        asked.push('Authorize');
        return { idTagInfo: { status: 'Blocked' } };
      }),
      h.gateway.bus.respond('gateway.requests.StartTransaction', () => {
        asked.push('StartTransaction');
        return { transactionId: 999_999, idTagInfo: { status: 'Blocked' } };
      }),
      h.gateway.bus.respond('gateway.requests.Heartbeat', () => {
        asked.push('Heartbeat');
        return { currentTime: '2001-01-01T00:00:00.000Z' };
      }),
    ];
    const client = await OcppClient.connect(h.url, 'POLICY-MERGE', ['ocpp1.6']);
    try {
      const boot = expectResult(await client.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'M' }));
      assertValidConf('ocpp1.6', 'BootNotification', boot);
      assert.equal(boot.interval, 77, "the backend's answer: BootNotification kept its default policy, backend");

      const authorize = expectResult(await client.call('Authorize', { idTag: 'TAG-1' }));
      assert.deepEqual(authorize, { idTagInfo: { status: 'Blocked' } }, "the backend's answer: Authorize kept backend");

      const start = expectResult(await client.call('StartTransaction', { connectorId: 1, idTag: 'TAG-1', meterStart: 0, timestamp: T() }));
      assertValidConf('ocpp1.6', 'StartTransaction', start);
      assert.deepEqual(start, { transactionId: 1, idTagInfo: { status: 'Accepted' } }, 'the local answer: the override applies');

      const heartbeat = expectResult(await client.call('Heartbeat', {}));
      assertValidConf('ocpp1.6', 'Heartbeat', heartbeat);
      assert.notEqual(heartbeat.currentTime, '2001-01-01T00:00:00.000Z', 'Heartbeat kept its default policy, local');

      assert.deepEqual(asked, ['BootNotification', 'Authorize'], 'the backend was asked exactly for the actions whose policy is backend');
    } finally {
      for (const sub of subs) sub.unsubscribe();
      await client.close();
      await h.stop();
    }
  });
});
