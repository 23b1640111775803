/**
 * Compatibility profiles: what the gateway accepts from one charger's firmware. A profile sets the validation
 * mode per action for the charger's CALLs and for its answers to the gateway's CALLs, the tolerances applied
 * before validation (tolerances.ts), and the CALLERROR spelling a 1.6 charger gets. Anything a profile leaves
 * unset falls back to the fleet-wide `ocpp.validation` (CALLs) or to `log` (answers: the charger has acted
 * already, so its answer is passed on and the breach logged).
 */
import type { ValidationMode } from '../config/schema.js';
import type { ErrorCodeSpelling } from '../ocpp/errors.js';
import type { ToleranceName } from './tolerances.js';

export interface ModeTable {
  default?: ValidationMode;
  actions: Readonly<Record<string, ValidationMode>>;
}

export interface CompatProfileDefinition {
  description: string;
  calls: ModeTable;
  answers: ModeTable;
  tolerances: readonly ToleranceName[];
  /** 1.6 chargers only: the spelling of FormationViolation / OccurenceConstraintViolation they get. */
  callErrorSpelling: ErrorCodeSpelling;
}

/** The profile a charger gets when nothing selects another. */
export const DEFAULT_PROFILE = 'strict';

const NONE: ModeTable = Object.freeze({ actions: Object.freeze({}) });

/**
 * The shipped profiles. Each names the public reports it answers (project and issue/PR numbers on GitHub) so an
 * operator can judge whether a charger is one of them. README "Compatibility profiles" describes them in full.
 */
export const SHIPPED_PROFILES: Readonly<Record<string, CompatProfileDefinition>> = Object.freeze({
  strict: {
    description: 'The official schemas as configured in ocpp.validation; nothing tolerated',
    calls: NONE,
    answers: NONE,
    tolerances: [],
    callErrorSpelling: 'ocpp1.6',
  },
  'long-strings': {
    // Model names longer than CiString20 and long configuration values: steve-community/steve #1259 and the
    // 255-character limits SteVe adopted; evcc-io/evcc's ocpp-go fork for GetConfiguration values.
    description: 'Long BootNotification strings (up to 255), long GetConfiguration values (up to 2000), over-long StatusNotification texts truncated',
    calls: NONE,
    answers: NONE,
    tolerances: ['long-boot-strings', 'long-configuration-values', 'truncate-status-texts'],
    callErrorSpelling: 'ocpp1.6',
  },
  'meter-values-lenient': {
    // Numbers as sampled values: OpenEVSE/openevse_esp32_firmware #335, matth-x/MicroOcpp #51, lbbrhzn/ocpp #210;
    // padded numbers: evcc-io/evcc #13990; empty sampledValue: lbbrhzn/ocpp #466; Hz: lbbrhzn/ocpp #1576.
    description: 'Sampled values as numbers or padded text, empty samples, Hz and Celsius spellings accepted in MeterValues and StopTransaction',
    calls: NONE,
    answers: NONE,
    tolerances: ['numbers-as-strings', 'empty-sampled-values', 'unit-aliases'],
    callErrorSpelling: 'ocpp1.6',
  },
  'transaction-safety': {
    // A CALLERROR on these makes stations retry for ever or lose the transaction: lorenzodonini/ocpp-go #188,
    // steve-community/steve #740; the 1.6 spec asks the central system not to reject a StopTransaction.
    description: 'Never a CALLERROR for a schema breach in StartTransaction, StopTransaction, MeterValues or TransactionEvent: logged and accepted',
    calls: { actions: { StartTransaction: 'log', StopTransaction: 'log', MeterValues: 'log', TransactionEvent: 'log' } },
    answers: NONE,
    tolerances: ['numbers-as-strings', 'empty-sampled-values', 'unit-aliases'],
    callErrorSpelling: 'ocpp1.6',
  },
  'ocpp16-spelling-2.0.1': {
    // 1.6 kept the misspelt codes (errata: won't fix); firmware that expects the corrected ones:
    // mobilityhouse/ocpp #381 and PR #490, lorenzodonini/ocpp-go PR #331.
    description: '1.6 chargers get FormatViolation / OccurrenceConstraintViolation, and either spelling or a text errorDetails is read from them',
    calls: NONE,
    answers: NONE,
    tolerances: ['callerror-code-spellings', 'callerror-details-text'],
    callErrorSpelling: 'ocpp2.0.1',
  },
  'enum-aliases': {
    // Legrand GreenUp errorCode "Error": lbbrhzn/ocpp #1248; ABB Terra AC long info texts: evcc-io/evcc #6817.
    description: 'Unknown StatusNotification errorCode read as OtherError (original in vendorErrorCode); over-long status texts truncated',
    calls: NONE,
    answers: NONE,
    tolerances: ['unknown-status-error-code', 'truncate-status-texts', 'callerror-code-spellings', 'callerror-details-text'],
    callErrorSpelling: 'ocpp1.6',
  },
});
