import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FormatsPlugin } from 'ajv-formats';
import addFormatsImport from 'ajv-formats';
import fc from 'fast-check';
import { dateTimeFormat } from '../../src/ocpp/date-time-format.js';

// The oracle: ajv-formats' own full-mode date-time check, called directly.
const plugin: FormatsPlugin = (addFormatsImport as unknown as { default?: FormatsPlugin }).default ?? (addFormatsImport as unknown as FormatsPlugin);
const oracle = (plugin.get('date-time', 'full') as { validate: (s: string) => boolean }).validate;
const check = dateTimeFormat.validate as (s: string) => boolean;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

test('the gateway accepts and refuses exactly the date-times ajv-formats full mode does', () => {
  const cases = [
    '2026-12-01T19:57:56Z',
    '2026-12-01T19:57:56.123Z',
    '2026-12-01T19:57:56.Z',
    '2024-02-29T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2000-02-29T00:00:00Z',
    '2026-02-30T10:00:00Z',
    '2026-04-31T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-00-01T10:00:00Z',
    '2026-12-00T10:00:00Z',
    '2026-12-01T24:00:00Z',
    '2026-12-01T23:60:00Z',
    '2026-12-01T23:59:60Z',
    '2026-12-31T23:59:60Z',
    '2026-12-01t19:57:56z',
    '2026-12-01 19:57:56Z',
    '2026-12-01T19:57:56',
    '2026-12-01T19:57:56+01:00',
    '2026-12-01T19:57:56.5-05:30',
    '2026-12-01T19:57:56+0100',
    '2026-12-01T19:57:56+24:00',
    '2026-1-01T19:57:56Z',
    '２026-12-01T19:57:56Z',
    '2026-12-01T19:57:56.1a3Z',
    '2026-12-01T19:57:56ZZ',
    ' 2026-12-01T19:57:56Z',
    '',
    'T',
  ];
  for (const value of cases) assert.equal(check(value), oracle(value), JSON.stringify(value));
});

test('generated date-times, valid and broken, get the same answer as from ajv-formats', () => {
  const field = (max: number, width: number) => fc.integer({ min: 0, max }).map((n) => pad(n, width));
  const timestamp = fc
    .tuple(
      field(9999, 4),
      field(14, 2),
      field(33, 2),
      fc.constantFrom('T', 't', ' ', 'X'),
      field(25, 2),
      field(61, 2),
      field(61, 2),
      fc.constantFrom('', '.', '.1', '.123', '.123456789', '.12a'),
      fc.constantFrom('Z', 'z', '', '+01:00', '-23:59', '+24:00', '+0530', 'ZZ'),
    )
    .map(([y, mo, d, sep, h, mi, s, frac, zone]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${frac}${zone}`);
  fc.assert(
    fc.property(timestamp, (value) => check(value) === oracle(value)),
    { numRuns: 20_000 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (value) => check(value) === oracle(value)),
    { numRuns: 5_000 },
  );
});
