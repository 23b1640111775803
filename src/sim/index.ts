/**
 * The charge point simulator's public API, for the gateway's tests, the benchmark and users:
 * runSimulation() for load, SimulatedCharger for driving one charger by hand, and the OCPP-J wire
 * vocabulary (ocpp-j.ts) that both share with the gateway's test clients.
 */
export { runSimulation } from './run.js';
export type { SimulationOptions, ProtocolChoice, ResolvedOptions } from './options.js';
export type { SimulationReport, ServerReport, WorkerSelfReport } from './report.js';
export { formatSummary } from './report.js';
export { SimulatedCharger, NO_REPLY, OCPP16, OCPP201 } from './client.js';
export type { ChargerOptions, CallHandler, CloseInfo } from './client.js';
export { CallError, CallTimeoutError, NotConnectedError, ConnectError } from './errors.js';
export { defaultAnswer, V16_ANSWERS, V201_ANSWERS } from './charger-answers.js';
export type { SimVersion } from './charger-answers.js';
export { Histogram, summarizeMicros } from './histogram.js';
export type { LatencySummary } from './histogram.js';
export {
  CALL,
  CALLERROR,
  CALLRESULT,
  answers,
  callInText,
  encodeCall,
  encodeCallError,
  encodeCallResult,
  isCall,
  messageText,
  openChargerSocket,
  parseFrame,
  processMessageIds,
  readAnswer,
  readFrame,
} from './ocpp-j.js';
export type { Answer, ChargerSocketOptions, Frame } from './ocpp-j.js';
