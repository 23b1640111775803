/**
 * The handshake bound's two settings as an operator sets them: by environment variable, with the defaults a fresh
 * gateway starts with, and a clear error for a value that is neither true nor false.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, environmentVariableOf, loadConfig } from '../../src/config/load.js';

describe('handshake bound settings', () => {
  let emptyDir: string;
  before(async () => {
    emptyDir = await mkdtemp(join(tmpdir(), 'gw-admission-config-'));
  });
  after(async () => {
    await rm(emptyDir, { recursive: true, force: true });
  });
  const load = (env: Record<string, string>) => loadConfig({ configDir: emptyDir, env }).server.admission;

  it('default: a floor of 2048 that may grow into the places left below maxConnections', () => {
    const admission = load({});
    assert.equal(admission.maxHandshakes, 2048);
    assert.equal(admission.handshakesUseSpareCapacity, true);
  });

  it('ADMISSION_HANDSHAKES_USE_SPARE_CAPACITY=false makes ADMISSION_MAX_HANDSHAKES a fixed bound', () => {
    assert.equal(environmentVariableOf('server.admission.handshakesUseSpareCapacity'), 'ADMISSION_HANDSHAKES_USE_SPARE_CAPACITY');
    const admission = load({ ADMISSION_HANDSHAKES_USE_SPARE_CAPACITY: 'false', ADMISSION_MAX_HANDSHAKES: '512' });
    assert.equal(admission.handshakesUseSpareCapacity, false);
    assert.equal(admission.maxHandshakes, 512);
  });

  it('a value that is neither true nor false is refused with the key it belongs to', () => {
    assert.throws(
      () => load({ ADMISSION_HANDSHAKES_USE_SPARE_CAPACITY: 'yes' }),
      (err: unknown) => err instanceof ConfigError && /handshakesUseSpareCapacity/.test(err.message) && /true or false/.test(err.message),
    );
  });
});
