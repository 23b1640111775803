import type { MeterValue, SampledValue } from './payloads.js';

/*
 * Meter values of both versions in one shape (see `SampledValue`). Each sampled value becomes one small
 * object with the specification's defaults filled in; fields outside the specification stay in the raw
 * request the event carries as well.
 */

export const ENERGY_IMPORT_REGISTER = 'Energy.Active.Import.Register';
const DEFAULT_CONTEXT = 'Sample.Periodic';
const DEFAULT_LOCATION = 'Outlet';
const DEFAULT_FORMAT = 'Raw';

const NO_METER_VALUES: MeterValue[] = [];

/** Both specifications default the unit to Wh only for energy measurands. */
function defaultUnit(measurand: string): string | null {
  return measurand.startsWith('Energy.') ? 'Wh' : null;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function sampledValueV16(s: any): SampledValue {
  const format: string = s.format ?? DEFAULT_FORMAT;
  const measurand: string = s.measurand ?? ENERGY_IMPORT_REGISTER;
  return {
    // Signed data may look like a number (hex digits); it is not a reading.
    value: format === 'SignedData' ? null : toNumber(s.value),
    rawValue: s.value ?? null,
    context: s.context ?? DEFAULT_CONTEXT,
    format,
    measurand,
    phase: s.phase ?? null,
    location: s.location ?? DEFAULT_LOCATION,
    unit: s.unit ?? defaultUnit(measurand),
    multiplier: 0,
    signedMeterValue: null,
  };
}

function sampledValueV201(s: any): SampledValue {
  const measurand: string = s.measurand ?? ENERGY_IMPORT_REGISTER;
  const unitOfMeasure = s.unitOfMeasure;
  return {
    value: toNumber(s.value),
    rawValue: s.value ?? null,
    context: s.context ?? DEFAULT_CONTEXT,
    format: DEFAULT_FORMAT,
    measurand,
    phase: s.phase ?? null,
    location: s.location ?? DEFAULT_LOCATION,
    unit: unitOfMeasure?.unit ?? defaultUnit(measurand),
    multiplier: unitOfMeasure?.multiplier ?? 0,
    signedMeterValue: s.signedMeterValue ?? null,
  };
}

function normalize(meterValue: unknown, sampled: (s: any) => SampledValue): MeterValue[] {
  if (!Array.isArray(meterValue) || meterValue.length === 0) return NO_METER_VALUES;
  const out = new Array<MeterValue>(meterValue.length);
  for (let i = 0; i < meterValue.length; i++) {
    const mv = meterValue[i];
    const values = mv?.sampledValue;
    const sampledValues: SampledValue[] = [];
    if (Array.isArray(values)) {
      for (let j = 0; j < values.length; j++) {
        const s = values[j];
        if (s !== null && typeof s === 'object') sampledValues.push(sampled(s));
      }
    }
    out[i] = { timestamp: mv?.timestamp ?? null, sampledValues };
  }
  return out;
}

/** 1.6 `meterValue` / `transactionData`. Returns a shared empty array when there is nothing: do not mutate. */
export function meterValuesV16(meterValue: unknown): MeterValue[] {
  return normalize(meterValue, sampledValueV16);
}

/** 2.0.1 `meterValue`. Returns a shared empty array when there is nothing: do not mutate. */
export function meterValuesV201(meterValue: unknown): MeterValue[] {
  return normalize(meterValue, sampledValueV201);
}

/** A reading of an energy register in Wh, or null when its unit is not an energy unit we can convert. */
export function energyWh(s: SampledValue): number | null {
  if (s.value === null) return null;
  let wh: number;
  if (s.unit === 'Wh') wh = s.value;
  else if (s.unit === 'kWh') wh = s.value * 1000;
  else return null;
  if (s.multiplier !== 0) wh *= 10 ** s.multiplier;
  // Scaling by powers of ten leaves binary noise (1.1 kWh → 1100.0000000000002 Wh); micro-Wh is plenty.
  return Math.round(wh * 1e6) / 1e6;
}

/**
 * The total (phase-less) import register reading in Wh: the one with `context` if there is one, otherwise
 * the first (`last` false) or last (`last` true) such reading. Used for 2.0.1 meterStart / meterStop, which
 * that version only carries inside the meter values of the transaction event.
 */
export function importRegisterWh(meterValues: MeterValue[], context: string, last: boolean): number | null {
  let fallback: number | null = null;
  for (const mv of meterValues) {
    for (const s of mv.sampledValues) {
      if (s.measurand !== ENERGY_IMPORT_REGISTER || s.phase !== null) continue;
      const wh = energyWh(s);
      if (wh === null) continue;
      if (s.context === context) return wh;
      if (fallback === null || last) fallback = wh;
    }
  }
  return fallback;
}
