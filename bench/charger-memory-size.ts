#!/usr/bin/env node
/**
 * What one remembered charger costs: builds 10,000 charger records with 0, 2 and 64 connector statuses each and
 * prints the heap they hold per record, after a full collection. The figures behind `chargers.maxRememberedEntries`
 * in the README. Run: `npm run build && node --expose-gc dist/bench/charger-memory-size.js`.
 */
import { ChargerMemory } from '../src/gateway/charger-memory.js';

const RECORDS = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}

const kept: ChargerMemory[] = [];
for (const connectors of [0, 2, 64]) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const memory = new ChargerMemory({ forgetAfterMs: 1e9, maxRemembered: 1e9, maxRememberedEntries: 1e9 });
  for (let i = 0; i < RECORDS; i++) {
    const record = memory.attach(`charger-${connectors}-${i}`);
    record.boot = { at: Date.now(), status: 'Accepted', vendor: 'Acme', model: 'X1', serialNumber: 'SN-0001', firmwareVersion: '1.0' };
    for (let c = 0; c < connectors; c++) {
      record.connectors.recordStatus({ key: String(c), evseId: null, connectorId: c, status: 'Available', errorCode: 'NoError', timestamp: new Date().toISOString() });
    }
    memory.detach(record);
  }
  gc();
  kept.push(memory);
  const perRecord = (process.memoryUsage().heapUsed - before) / RECORDS;
  process.stdout.write(`${connectors} connector statuses: ${Math.round(perRecord)} bytes per record (${memory.size} records)\n`);
}
