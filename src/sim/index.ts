/**
 * The charge point simulator's public API, for the gateway's tests, the benchmark and users:
 * runSimulation() for load, SimulatedCharger for driving one charger by hand, and the OCPP-J wire
 * vocabulary (ocpp-j.ts) that both share with the gateway's test clients.
 */

export type { SimVersion } from './charger-answers.js';
export { defaultAnswer, V16_ANSWERS, V201_ANSWERS } from './charger-answers.js';
export type { CallHandler, ChargerOptions, CloseInfo } from './client.js';
export { NO_REPLY, OCPP16, OCPP201, SimulatedCharger } from './client.js';
export { CallError, CallTimeoutError, ConnectError, NotConnectedError } from './errors.js';
export type { LatencySummary } from './histogram.js';
export { Histogram, summarizeMicros } from './histogram.js';
export type { Answer, ChargerSocketOptions, Frame } from './ocpp-j.js';
export {
  answers,
  CALL,
  CALLERROR,
  CALLRESULT,
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
export type { ProtocolChoice, ResolvedOptions, SimulationOptions } from './options.js';
export type { ServerReport, SimulationReport, WorkerSelfReport } from './report.js';
export { formatSummary } from './report.js';
export { runSimulation } from './run.js';
