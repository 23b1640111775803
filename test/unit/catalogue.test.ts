import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTION_COUNT, actionDirection, actionEntry, actionId, actionsOf, isActionAllowed, NOT_AN_ACTION } from '../../src/ocpp/catalogue.js';
import { PerAction } from '../../src/ocpp/per-action.js';
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

  it('numbers every action of both versions once, from 0 to ACTION_COUNT - 1', () => {
    const seen = new Set<number>();
    for (const version of OCPP_VERSIONS) {
      for (const action of schemas[version].keys()) {
        const id = actionId(version, action);
        assert.ok(Number.isInteger(id) && id >= 0 && id < ACTION_COUNT, `${version} ${action}: ${id}`);
        assert.ok(!seen.has(id), `${version} ${action} shares id ${id}`);
        seen.add(id);
        const entry = actionEntry(id);
        assert.deepEqual({ ...entry }, { id, version, action, direction: actionDirection(version, action) });
      }
    }
    assert.equal(seen.size, ACTION_COUNT);
    // A name the version lacks, in any spelling, has no id; nor does an id outside the range stand for anything.
    assert.equal(actionId('ocpp1.6', 'TransactionEvent'), NOT_AN_ACTION);
    assert.equal(actionId('ocpp1.6', 'heartbeat'), NOT_AN_ACTION);
    assert.equal(actionId('ocpp2.0.1', ''), NOT_AN_ACTION);
    assert.notEqual(actionId('ocpp1.6', 'Heartbeat'), actionId('ocpp2.0.1', 'Heartbeat'));
    assert.throws(() => actionEntry(NOT_AN_ACTION), RangeError);
    assert.throws(() => actionEntry(ACTION_COUNT), RangeError);
  });

  it('keeps what a layer works out per action, made once on first use', () => {
    const made: string[] = [];
    const table = new PerAction(({ version, action }) => {
      made.push(`${version} ${action}`);
      return { label: `${action}@${version}` };
    });
    const meterValues = actionId('ocpp1.6', 'MeterValues');
    const first = table.get(meterValues);
    assert.equal(first.label, 'MeterValues@ocpp1.6');
    assert.equal(table.get(meterValues), first);
    assert.equal(table.get(actionId('ocpp2.0.1', 'MeterValues')).label, 'MeterValues@ocpp2.0.1');
    assert.deepEqual(made, ['ocpp1.6 MeterValues', 'ocpp2.0.1 MeterValues']);
  });
});
