import type { GatewayConfig, ValidationMode } from '../config/schema.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import { type ActionId, NOT_AN_ACTION } from './catalogue.js';
import { type ErrorCodeSpelling, spelledErrorCode } from './errors.js';
import type { JsonObject } from './framing.js';
import { PerAction } from './per-action.js';
import type { ProtocolMetrics } from './protocol-metrics.js';
import type { InboundCheckFailure } from './rpc-shared.js';
import type { OcppValidator, PayloadCheck, SchemaViolation } from './validation.js';
import type { OcppVersion } from './versions.js';

/**
 * What a charger's compatibility profile changes in the check (see src/compat): repairs applied before
 * validation, its own mode per action (undefined: the fleet-wide policy), relaxed schemas, and the spelling of
 * the CALLERROR codes it is told.
 */
export interface InboundProfile {
  callMode(action: string): ValidationMode | undefined;
  validator(version: OcppVersion): OcppValidator;
  repairCall(version: OcppVersion, action: string, payload: JsonObject): void;
  readonly callErrorSpelling: ErrorCodeSpelling;
}

/** The `ocpp.validation` config: a default mode and per-action overrides (e.g. a fleet breaking CiString20). */
export type ValidationPolicy = GatewayConfig['ocpp']['validation'];

/** A charger CALL the schema refused (strict mode), as an operator needs to see it: never the values sent. */
export interface SchemaRefusal {
  at: number;
  action: string;
  /** The CALLERROR code the charger got, spelled as its version spells it. */
  errorCode: string;
  /** Instance paths and the schema keyword each broke. */
  paths: Array<{ path: string; keyword: string }>;
}

export interface InboundCheckHooks<Owner> {
  /** Per-message warnings go here: one line per key and interval. */
  warnings: RateLimitedLog;
  identityOf(owner: Owner): string;
  /** Told of every CALL the schema refused, e.g. to keep the charger's last refusals for the admin API. */
  refused?(owner: Owner, refusal: SchemaRefusal): void;
  /**
   * The charger's compatibility profile for this CALL. Asked before anything else is read from the payload, so a
   * BootNotification can choose the profile that then judges it.
   */
  profileFor?(owner: Owner, version: OcppVersion, action: string, payload: JsonObject): InboundProfile | undefined;
}

/** Paths named per refusal, and their length: the path of an unknown property is the charger's own text. */
const MAX_PATHS = 4;
const MAX_PATH_LENGTH = 128;

/** What the check needs of one action, worked out once: whether chargers send it, its mode, its schema check. */
interface ActionRule {
  sentByChargers: boolean;
  /** The fleet-wide mode for the action (a charger's profile may set its own). */
  mode: ValidationMode;
  validate: PayloadCheck;
}

/** The inbound check: `id` is the action's id in the charger's version (`actionId`), NOT_AN_ACTION if it has none. */
export type InboundCheck<Owner> = (version: OcppVersion, id: ActionId, action: string, payload: JsonObject, owner: Owner) => InboundCheckFailure | null;

/**
 * Decides whether a charger's CALL may be handled: the action must exist in the charger's version and be one a
 * charger sends, and the payload must match the official schema (strictly, or only logged, or not checked,
 * per action). A refusal is logged per charger and action, a `log`-mode breach per action, each at most once
 * per interval of the rate-limited log.
 */
export function createInboundCheck<Owner>(
  validators: Record<OcppVersion, OcppValidator>,
  policy: ValidationPolicy,
  metrics: ProtocolMetrics,
  hooks: InboundCheckHooks<Owner>,
): InboundCheck<Owner> {
  const modes = new Map(Object.entries(policy.actions));
  const rules = new PerAction<ActionRule>(({ version, action, direction }) => ({
    sentByChargers: direction === 'chargerToCentral',
    mode: modes.get(action) ?? policy.default,
    validate: validators[version].requestCheck(action),
  }));
  const { warnings } = hooks;
  return (version, id, action, payload, owner) => {
    if (id === NOT_AN_ACTION) {
      return {
        reason: 'notImplemented',
        message: action === '' ? 'the action name is empty' : `${truncate(action)} is not an action of ${version}`,
      };
    }
    const rule = rules.get(id);
    if (!rule.sentByChargers) {
      return { reason: 'notSupported', message: `${action} is sent by the central system, not by a charge point` };
    }
    const profile = hooks.profileFor?.(owner, version, action, payload);
    let mode = rule.mode;
    if (profile !== undefined) {
      // Tolerances run whatever the mode: they are what the charger is taken to have meant, events included.
      profile.repairCall(version, action, payload);
      mode = profile.callMode(action) ?? mode;
    }
    if (mode === 'off') return null;
    const violation = profile === undefined ? rule.validate(payload) : profile.validator(version).validateRequest(action, payload);
    if (violation === null) return null;
    metrics.validationFailure(action, 'request', mode);
    const paths = failingPaths(violation);
    if (mode === 'log') {
      warnings.write(
        'warn',
        `schema-log:${action}`,
        { action, protocol: version, paths, description: violation.message },
        'charger payload breaks the schema; handled anyway (validation mode log)',
      );
      return null;
    }
    const identity = hooks.identityOf(owner);
    const errorCode = spelledErrorCode(version, violation.reason, profile?.callErrorSpelling ?? version);
    hooks.refused?.(owner, { at: Date.now(), action, errorCode, paths });
    warnings.write(
      'warn',
      `schema-refused:${identity}:${action}`,
      { chargePointId: identity, action, protocol: version, errorCode, paths, description: violation.message },
      'charger CALL refused: the payload breaks the OCPP schema',
    );
    return { reason: violation.reason, message: violation.message, details: { errors: violation.errors } };
  };
}

function failingPaths(violation: SchemaViolation): Array<{ path: string; keyword: string }> {
  return violation.errors.slice(0, MAX_PATHS).map((e) => ({ path: truncate(e.path, MAX_PATH_LENGTH), keyword: e.keyword }));
}

function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
