import type { Logger } from 'pino';
import type { ValidationMode } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallErrorFrame, JsonObject } from '../ocpp/framing.js';
import type { OcppValidator, SchemaViolation } from '../ocpp/validation.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { CompatConfig } from './compat-config.js';
import { type CompiledProfile, compileProfiles } from './compiled-profile.js';
import { type ChargerModel, type CompatChoice, CompatSelector, peekBootModel } from './selection.js';
import { ERROR_DETAILS_TEXT_MAX, respelledErrorCode } from './tolerances.js';

/** What the service needs of a connection: its identity, its version, its current choice and its memory. */
export interface CompatSubject {
  readonly identity: string;
  readonly protocol: OcppVersion;
  compat: CompatChoice | undefined;
  readonly charger: { boot?: ChargerModel; compatModel?: ChargerModel };
}

/** A charger's answer to a gateway CALL that broke its schema, and what its profile says to do about it. */
export interface AnswerVerdict {
  mode: ValidationMode;
  violation: SchemaViolation;
}

/**
 * Compatibility profiles on the message path: chooses each charger's profile when it connects and again when its
 * BootNotification names its model, and applies the profile to its CALLs, its answers and its CALLERRORs. Counts
 * the connected chargers per profile and every message a tolerance changed.
 */
export class CompatService {
  private readonly selector: CompatSelector;
  /** The per-profile gauge: every connection moves one of its cells up and down. */
  private readonly profileChargers: Metrics['compatProfileChargers'];

  constructor(
    config: CompatConfig,
    validators: Record<OcppVersion, OcppValidator>,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const profiles = compileProfiles(config, validators, (profile, tolerance) => metrics.compatTolerancesApplied.labels(profile, tolerance).inc());
    this.selector = new CompatSelector(config, profiles);
    this.profileChargers = metrics.compatProfileChargers;
    // Every profile shows in the gauge, at 0 while no charger uses it.
    for (const name of this.selector.profileNames) this.profileChargers.cell(name).value = 0;
  }

  /**
   * A connection was accepted: its profile is the one named for it, or the one its remembered model matches (a
   * charger that reconnects without a BootNotification keeps it), or the default.
   */
  attach(subject: CompatSubject): void {
    const known = subject.charger.compatModel ?? subject.charger.boot;
    this.use(subject, this.selector.choose(subject.identity, known));
  }

  /** The connection closed: it no longer counts for its profile. */
  detach(subject: CompatSubject): void {
    if (subject.compat !== undefined) this.profileChargers.cell(subject.compat.profile.name).value--;
  }

  /**
   * The profile for a charger's CALL. A BootNotification is peeked at before it is validated, so the profile its
   * vendor/model matches is the one that judges it (a 23-character model is accepted where a rule allows it).
   */
  profileFor(subject: CompatSubject, version: OcppVersion, action: string, payload: JsonObject): CompiledProfile | undefined {
    if (action === 'BootNotification' && !this.selector.isNamed(subject.identity)) {
      const model = peekBootModel(version, payload);
      subject.charger.compatModel = model;
      this.use(subject, this.selector.choose(subject.identity, model));
    }
    return subject.compat?.profile;
  }

  /** The spelling of the CALLERROR codes the charger gets. */
  spellingOf(subject: CompatSubject): OcppVersion {
    return subject.compat?.profile.callErrorSpelling ?? subject.protocol;
  }

  /**
   * A charger's CALLERROR answering a gateway CALL, read as its profile allows: the other version's spelling of a
   * code in its own version's, and errorDetails that is not an object kept as clipped text (else dropped: OCPP-J
   * says it is an object, and its text could be anything).
   */
  readCallError(subject: CompatSubject, version: OcppVersion, frame: CallErrorFrame): { errorCode: string; errorDetails: JsonObject } {
    const profile = subject.compat?.profile;
    let errorCode = frame.errorCode;
    let errorDetails = frame.errorDetails;
    if (profile?.tolerates('callerror-code-spellings')) {
      const respelled = respelledErrorCode(version, errorCode);
      if (respelled !== undefined) {
        errorCode = respelled;
        profile.count('callerror-code-spellings');
      }
    }
    if (frame.detailsNotObject === true) {
      if (profile?.tolerates('callerror-details-text')) {
        errorDetails = { text: clipText(errorDetails.text) };
        profile.count('callerror-details-text');
      } else {
        errorDetails = {};
        this.metrics.validationFailures.labels('CALLERROR', 'response', 'log').inc();
      }
    }
    return { errorCode, errorDetails };
  }

  /** Repairs a charger's answer to a gateway CALL and validates it; null when it is valid or its mode is off. */
  checkAnswer(subject: CompatSubject, validators: Record<OcppVersion, OcppValidator>, action: string, response: JsonObject): AnswerVerdict | null {
    const version = subject.protocol;
    const profile = subject.compat?.profile;
    profile?.repairAnswer(version, action, response);
    const mode = profile?.answerMode(action) ?? 'log';
    if (mode === 'off') return null;
    const violation = (profile?.validator(version) ?? validators[version]).validateResponse(action, response);
    if (violation === null) return null;
    this.metrics.validationFailures.labels(action, 'response', mode).inc();
    return { mode, violation };
  }

  private use(subject: CompatSubject, choice: CompatChoice): void {
    const previous = subject.compat;
    if (previous?.profile === choice.profile && previous.reason === choice.reason) return;
    if (previous !== undefined) this.profileChargers.cell(previous.profile.name).value--;
    this.profileChargers.cell(choice.profile.name).value++;
    subject.compat = choice;
    if (previous !== undefined && previous.profile !== choice.profile) {
      this.log.debug({ chargePointId: subject.identity, profile: choice.profile.name, reason: choice.reason }, 'compatibility profile changed by BootNotification');
    }
  }
}

function clipText(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  } catch {
    text = '';
  }
  return text.length > ERROR_DETAILS_TEXT_MAX ? `${text.slice(0, ERROR_DETAILS_TEXT_MAX - 3)}...` : text;
}
