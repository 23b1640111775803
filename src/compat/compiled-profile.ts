import type { ValidationMode } from '../config/schema.js';
import type { ErrorCodeSpelling } from '../ocpp/errors.js';
import type { JsonObject } from '../ocpp/framing.js';
import { loadOcppSchemas } from '../ocpp/schemas.js';
import { createRelaxedValidator, type OcppValidator, type SchemaOverride } from '../ocpp/validation.js';
import { OCPP_VERSIONS, type OcppVersion } from '../ocpp/versions.js';
import type { CompatConfig } from './compat-config.js';
import { type CompatProfileDefinition, SHIPPED_PROFILES } from './profiles.js';
import { cloneSchema, type Repair, type Tolerance, type ToleranceName, tolerance } from './tolerances.js';

/** Told of every repair that changed something, to count it per profile and tolerance. */
export type ToleranceCounter = (profile: string, tolerance: ToleranceName, changes: number) => void;

/**
 * One profile ready for use on the message path: its modes as maps, its tolerances split by what they act on,
 * and its validators with the relaxed schemas compiled in. Built once at start-up, shared by its chargers.
 */
export class CompiledProfile {
  readonly tolerances: ReadonlySet<ToleranceName>;
  readonly callErrorSpelling: ErrorCodeSpelling;
  private readonly callModes: ReadonlyMap<string, ValidationMode>;
  private readonly answerModes: ReadonlyMap<string, ValidationMode>;
  private readonly callRepairs: ReadonlyArray<[ToleranceName, Repair]>;
  private readonly answerRepairs: ReadonlyArray<[ToleranceName, Repair]>;
  private readonly validators: Record<OcppVersion, OcppValidator>;

  constructor(
    readonly name: string,
    readonly definition: CompatProfileDefinition,
    base: Record<OcppVersion, OcppValidator>,
    private readonly counted: ToleranceCounter,
  ) {
    const list: Tolerance[] = definition.tolerances.map(tolerance);
    this.tolerances = new Set(definition.tolerances);
    this.callErrorSpelling = definition.callErrorSpelling;
    this.callModes = new Map(Object.entries(definition.calls.actions));
    this.answerModes = new Map(Object.entries(definition.answers.actions));
    this.callRepairs = list.flatMap((t) => (t.repairCall ? [[t.name, t.repairCall] as [ToleranceName, Repair]] : []));
    this.answerRepairs = list.flatMap((t) => (t.repairAnswer ? [[t.name, t.repairAnswer] as [ToleranceName, Repair]] : []));
    this.validators = relaxedValidators(list, base);
  }

  /** The profile's mode for a charger's CALL; undefined: the fleet-wide `ocpp.validation` decides. */
  callMode(action: string): ValidationMode | undefined {
    return this.callModes.get(action) ?? this.definition.calls.default;
  }

  /** The profile's mode for a charger's answer to a gateway CALL; `log` unless the profile says otherwise. */
  answerMode(action: string): ValidationMode {
    return this.answerModes.get(action) ?? this.definition.answers.default ?? 'log';
  }

  validator(version: OcppVersion): OcppValidator {
    return this.validators[version];
  }

  tolerates(name: ToleranceName): boolean {
    return this.tolerances.has(name);
  }

  /** Applies the profile's repairs to a charger's CALL payload, in place. */
  repairCall(version: OcppVersion, action: string, payload: JsonObject): void {
    this.repair(this.callRepairs, version, action, payload);
  }

  /** Applies the profile's repairs to a charger's CALLRESULT payload, in place. */
  repairAnswer(version: OcppVersion, action: string, payload: JsonObject): void {
    this.repair(this.answerRepairs, version, action, payload);
  }

  /** Counts a tolerance the RPC layer applied (CALLERROR reading). */
  count(name: ToleranceName, changes = 1): void {
    this.counted(this.name, name, changes);
  }

  private repair(repairs: ReadonlyArray<[ToleranceName, Repair]>, version: OcppVersion, action: string, payload: JsonObject): void {
    for (const [name, repair] of repairs) {
      let changes = 0;
      try {
        changes = repair(version, action, payload);
      } catch {
        // Repairs are written not to throw; should one still, the payload goes to validation as it stands.
        changes = 0;
      }
      if (changes > 0) this.counted(this.name, name, changes);
    }
  }
}

/** Per version: the base validator, or one with the tolerances' relaxed schemas compiled in. */
function relaxedValidators(list: readonly Tolerance[], base: Record<OcppVersion, OcppValidator>): Record<OcppVersion, OcppValidator> {
  const tables = loadOcppSchemas();
  const out = {} as Record<OcppVersion, OcppValidator>;
  for (const version of OCPP_VERSIONS) {
    // Several tolerances may relax the same schema: they patch one clone in turn.
    const clones = new Map<string, SchemaOverride>();
    for (const t of list) {
      for (const r of t.relax ?? []) {
        if (r.version !== version) continue;
        const key = `${r.kind}:${r.action}`;
        let override = clones.get(key);
        if (override === undefined) {
          const schemas = tables[version].get(r.action);
          if (schemas === undefined) continue;
          override = { action: r.action, kind: r.kind, schema: cloneSchema(r.kind === 'request' ? schemas.request : schemas.response) };
          clones.set(key, override);
        }
        r.patch(override.schema);
      }
    }
    out[version] = createRelaxedValidator(base[version], [...clones.values()]);
  }
  return out;
}

/** Every profile a configuration can name: the shipped ones, and the operator's (which may redefine a shipped name). */
export function compileProfiles(config: CompatConfig, base: Record<OcppVersion, OcppValidator>, counted: ToleranceCounter): Map<string, CompiledProfile> {
  const definitions: Record<string, CompatProfileDefinition> = { ...SHIPPED_PROFILES };
  for (const [name, own] of Object.entries(config.profiles)) {
    definitions[name] = { ...own, tolerances: own.tolerances as ToleranceName[] };
  }
  const out = new Map<string, CompiledProfile>();
  for (const [name, definition] of Object.entries(definitions)) out.set(name, new CompiledProfile(name, definition, base, counted));
  return out;
}
