import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { actionDirection, actionsOf, isActionAllowed } from '../../src/ocpp/catalogue.js';
import { loadOcppSchemas } from '../../src/ocpp/schemas.js';
import { OCPP_VERSIONS } from '../../src/ocpp/versions.js';

const schemas = loadOcppSchemas();

describe('OCPP schemas', () => {
  it('holds a request and a response schema for every action of both versions', () => {
    assert.equal(schemas['ocpp1.6'].size, 39);
    assert.equal(schemas['ocpp2.0.1'].size, 64);
    for (const version of OCPP_VERSIONS) {
      for (const [action, pair] of schemas[version]) {
        assert.equal(pair.request.$id, `urn:${action}.req`);
        assert.equal(pair.response.$id, `urn:${action}.conf`);
      }
    }
  });

  it('is loaded once and shared read-only', () => {
    assert.equal(loadOcppSchemas(), schemas);
    const boot = schemas['ocpp1.6'].get('BootNotification');
    assert.ok(boot && Object.isFrozen(boot.request) && Object.isFrozen(boot.request.properties));
  });
});

describe('action catalogue', () => {
  for (const version of OCPP_VERSIONS) {
    it(`${version}: names exactly the actions of the schema file`, () => {
      const catalogued = new Set([...actionsOf(version, 'chargerToCentral'), ...actionsOf(version, 'centralToCharger')]);
      assert.deepEqual([...catalogued].sort(), [...schemas[version].keys()].sort());
    });

    it(`${version}: gives every action one direction, DataTransfer both ways`, () => {
      const up = new Set(actionsOf(version, 'chargerToCentral'));
      const down = new Set(actionsOf(version, 'centralToCharger'));
      assert.deepEqual(
        [...up].filter((action) => down.has(action)),
        ['DataTransfer'],
      );
      for (const action of up) assert.equal(actionDirection(version, action), 'chargerToCentral', action);
      for (const action of down) {
        if (action !== 'DataTransfer') assert.equal(actionDirection(version, action), 'centralToCharger', action);
      }
      assert.ok(isActionAllowed(version, 'DataTransfer', 'chargerToCentral'));
      assert.ok(isActionAllowed(version, 'DataTransfer', 'centralToCharger'));
      assert.ok(isActionAllowed(version, 'Heartbeat', 'chargerToCentral'));
      assert.ok(!isActionAllowed(version, 'Heartbeat', 'centralToCharger'));
      assert.ok(!isActionAllowed(version, 'NoSuchAction', 'chargerToCentral'));
    });

    it(`${version}: lists are sorted and cannot be changed by callers`, () => {
      const up = actionsOf(version, 'chargerToCentral');
      assert.deepEqual([...up], [...up].sort());
      assert.ok(Object.isFrozen(up));
    });
  }

  it('knows the 1.6 uplink, including the security extension', () => {
    assert.deepEqual(actionsOf('ocpp1.6', 'chargerToCentral'), [
      'Authorize',
      'BootNotification',
      'DataTransfer',
      'DiagnosticsStatusNotification',
      'FirmwareStatusNotification',
      'Heartbeat',
      'LogStatusNotification',
      'MeterValues',
      'SecurityEventNotification',
      'SignCertificate',
      'SignedFirmwareStatusNotification',
      'StartTransaction',
      'StatusNotification',
      'StopTransaction',
    ]);
    assert.equal(actionDirection('ocpp1.6', 'ExtendedTriggerMessage'), 'centralToCharger');
    assert.equal(actionDirection('ocpp1.6', 'RemoteStartTransaction'), 'centralToCharger');
  });

  it('keeps the versions apart', () => {
    assert.equal(actionDirection('ocpp1.6', 'TransactionEvent'), undefined);
    assert.equal(actionDirection('ocpp2.0.1', 'StartTransaction'), undefined);
    assert.equal(actionDirection('ocpp2.0.1', 'TransactionEvent'), 'chargerToCentral');
    assert.equal(actionDirection('ocpp2.0.1', 'RequestStartTransaction'), 'centralToCharger');
    assert.equal(actionDirection('ocpp2.0.1', 'CostUpdated'), 'centralToCharger');
    assert.equal(actionsOf('ocpp2.0.1', 'chargerToCentral').length, 25);
    // Lookups are exact: OCPP action names are case-sensitive.
    assert.equal(actionDirection('ocpp1.6', 'heartbeat'), undefined);
  });
});
