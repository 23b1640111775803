/** `npm run bench -- --gateway-env "A=1 B=2"`: settings for the gateway under test, by environment variable. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGatewayEnv } from '../../bench/targets.js';

describe('bench --gateway-env', () => {
  it('reads upper-case NAME=value pairs separated by spaces; a value may hold "=" or be empty', () => {
    assert.deepEqual(parseGatewayEnv('ADMISSION_MAX_HANDSHAKES=8192  LOG_LEVEL=info X1=a=b EMPTY='), {
      ADMISSION_MAX_HANDSHAKES: '8192',
      LOG_LEVEL: 'info',
      X1: 'a=b',
      EMPTY: '',
    });
  });

  it('is empty without the option', () => {
    assert.deepEqual(parseGatewayEnv(undefined), {});
    assert.deepEqual(parseGatewayEnv('  '), {});
  });

  it('refuses anything that is not NAME=value with an upper-case name', () => {
    for (const bad of ['admission_max_handshakes=1', 'NOVALUE', '=1', '1A=2', 'A-B=1']) {
      assert.throws(() => parseGatewayEnv(bad), { name: 'RangeError', message: new RegExp(`"${bad}" is not NAME=value`) });
    }
  });
});
