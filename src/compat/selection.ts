import type { JsonObject } from '../ocpp/framing.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { CompatConfig, ModelRule, TextMatch } from './compat-config.js';
import type { CompiledProfile } from './compiled-profile.js';

/** Why a charger has its profile: named for it, matched on its vendor/model, or the default. */
export type CompatReason = 'charger' | 'model' | 'default';

export interface CompatChoice {
  readonly profile: CompiledProfile;
  readonly reason: CompatReason;
}

/** What a BootNotification says the charger is; either part may be missing. */
export interface ChargerModel {
  vendor?: string;
  model?: string;
}

/** Longest vendor/model text looked at: BootNotification strings are at most 255 in any tolerated form. */
const MAX_MATCHED_LENGTH = 255;

type Matcher = (text: string | undefined) => boolean;

function matcher(match: TextMatch | undefined): Matcher {
  if (match === undefined) return () => true;
  if (typeof match === 'string') return (text) => text === match;
  if ('prefix' in match) return (text) => text?.startsWith(match.prefix) === true;
  const regex = new RegExp(match.regex);
  return (text) => text !== undefined && regex.test(text);
}

/**
 * Chooses a charger's compatibility profile: the profile configured for its identity, else the first model rule
 * matching the vendor/model of its BootNotification (this connection's, or the one remembered from before), else
 * the default.
 */
export class CompatSelector {
  private readonly chargers: ReadonlyMap<string, string>;
  private readonly rules: ReadonlyArray<{ vendor: Matcher; model: Matcher; profile: string }>;

  constructor(
    private readonly config: CompatConfig,
    private readonly profiles: ReadonlyMap<string, CompiledProfile>,
  ) {
    this.chargers = new Map(Object.entries(config.chargers));
    this.rules = config.models.map((rule: ModelRule) => ({ vendor: matcher(rule.vendor), model: matcher(rule.model), profile: rule.profile }));
  }

  /** The choice for a charger, given what is known of its model (nothing, before any BootNotification). */
  choose(identity: string, known: ChargerModel | undefined): CompatChoice {
    const named = this.chargers.get(identity);
    if (named !== undefined) return { profile: this.profile(named), reason: 'charger' };
    if (known !== undefined) {
      const vendor = clip(known.vendor);
      const model = clip(known.model);
      for (const rule of this.rules) {
        if (rule.vendor(vendor) && rule.model(model)) return { profile: this.profile(rule.profile), reason: 'model' };
      }
    }
    return { profile: this.profile(this.config.default), reason: 'default' };
  }

  /** Whether the identity has a profile of its own (a BootNotification then changes nothing). */
  isNamed(identity: string): boolean {
    return this.chargers.has(identity);
  }

  get profileNames(): Iterable<string> {
    return this.profiles.keys();
  }

  private profile(name: string): CompiledProfile {
    const profile = this.profiles.get(name);
    // The config schema refuses unknown names; reaching here is a bug, not input.
    if (profile === undefined) throw new Error(`compatibility profile ${name} is not compiled`);
    return profile;
  }
}

/**
 * Vendor and model from a raw BootNotification payload, before it is validated: a field that is not a string is
 * absent, and long ones are clipped, so nothing the charger sends can make matching slow.
 */
export function peekBootModel(version: OcppVersion, payload: JsonObject): ChargerModel {
  if (version === 'ocpp1.6') return { vendor: text(payload.chargePointVendor), model: text(payload.chargePointModel) };
  const station = payload.chargingStation;
  if (typeof station !== 'object' || station === null || Array.isArray(station)) return {};
  const s = station as JsonObject;
  return { vendor: text(s.vendorName), model: text(s.model) };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? clip(value) : undefined;
}

function clip(value: string | undefined): string | undefined {
  return value !== undefined && value.length > MAX_MATCHED_LENGTH ? value.slice(0, MAX_MATCHED_LENGTH) : value;
}
