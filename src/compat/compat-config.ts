import { z } from 'zod';
import { isActionAllowed } from '../ocpp/catalogue.js';
import { OCPP_VERSIONS } from '../ocpp/versions.js';
import { DEFAULT_PROFILE, SHIPPED_PROFILES } from './profiles.js';
import { isToleranceName, TOLERANCE_NAMES } from './tolerances.js';

/**
 * The `compat` section of the configuration: operators' own profiles, and which charger gets which profile
 * (by identity, by vendor/model from its BootNotification, or the default). Every name is checked at start-up:
 * an unknown action, tolerance or profile is a ConfigError naming the key, never a profile silently ignored.
 */

const modeSchema = z.enum(['strict', 'log', 'off']);
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const profileName = z.string().regex(PROFILE_NAME, 'a profile name is 1 to 64 letters, digits, ".", "_" and "-"');

function modeTable(direction: 'chargerToCentral' | 'centralToCharger') {
  const which = direction === 'chargerToCentral' ? 'sent by a charger' : 'sent by the gateway to a charger';
  return z
    .object({
      default: modeSchema.optional(),
      actions: z
        .record(z.string(), modeSchema)
        .default({})
        .superRefine((actions, ctx) => {
          for (const action of Object.keys(actions)) {
            if (!OCPP_VERSIONS.some((v) => isActionAllowed(v, action, direction))) {
              ctx.addIssue({ code: 'custom', path: [action], message: `"${action}" is not an OCPP 1.6 or 2.0.1 action ${which}` });
            }
          }
        }),
    })
    .strict()
    .prefault({});
}

const profileSchema = z
  .object({
    description: z.string().max(300).default('defined in the configuration'),
    /** Validation of the charger's CALLs; unset modes fall back to ocpp.validation. */
    calls: modeTable('chargerToCentral'),
    /** Validation of the charger's answers to the gateway's CALLs; unset modes are `log`. */
    answers: modeTable('centralToCharger'),
    tolerances: z
      .array(z.string())
      .default([])
      .superRefine((names, ctx) => {
        names.forEach((name, i) => {
          if (!isToleranceName(name)) ctx.addIssue({ code: 'custom', path: [i], message: `unknown tolerance "${name}"; known: ${TOLERANCE_NAMES.join(', ')}` });
        });
      }),
    callErrorSpelling: z.enum(['ocpp1.6', 'ocpp2.0.1']).default('ocpp1.6'),
  })
  .strict();

/** An exact text, or `{ prefix }`, or `{ regex }` (JavaScript syntax, checked at start-up). */
const textMatchSchema = z.union([
  z.string().min(1),
  z.object({ prefix: z.string().min(1) }).strict(),
  z
    .object({ regex: z.string().min(1).max(500) })
    .strict()
    .superRefine((m, ctx) => {
      try {
        new RegExp(m.regex);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `not a regular expression: ${(err as Error).message}` });
      }
    }),
]);
export type TextMatch = z.infer<typeof textMatchSchema>;

const modelRuleSchema = z
  .object({
    vendor: textMatchSchema,
    /** Absent: every model of the vendor. */
    model: textMatchSchema.optional(),
    profile: profileName,
  })
  .strict();
export type ModelRule = z.infer<typeof modelRuleSchema>;

export const compatSchema = z
  .object({
    /** The profile of chargers no rule selects (COMPAT_PROFILE_DEFAULT). */
    default: profileName.default(DEFAULT_PROFILE),
    /** Charger identity → profile; beats every model rule. */
    chargers: z.record(z.string(), profileName).default({}),
    /** Vendor/model rules on the BootNotification, first match wins. */
    models: z.array(modelRuleSchema).max(1000).default([]),
    /** Operators' own profiles, by name; a shipped name may be redefined. */
    profiles: z.record(profileName, profileSchema).default({}),
  })
  .strict()
  .prefault({})
  .superRefine((compat, ctx) => {
    const known = (name: string) => Object.hasOwn(compat.profiles, name) || Object.hasOwn(SHIPPED_PROFILES, name);
    const problem = (name: string) =>
      `unknown compatibility profile "${name}"; known: ${[...new Set([...Object.keys(SHIPPED_PROFILES), ...Object.keys(compat.profiles)])].join(', ')}`;
    if (!known(compat.default)) ctx.addIssue({ code: 'custom', path: ['default'], message: problem(compat.default) });
    for (const [identity, name] of Object.entries(compat.chargers)) {
      if (!known(name)) ctx.addIssue({ code: 'custom', path: ['chargers', identity], message: problem(name) });
    }
    compat.models.forEach((rule, i) => {
      if (!known(rule.profile)) ctx.addIssue({ code: 'custom', path: ['models', i, 'profile'], message: problem(rule.profile) });
    });
  });

export type CompatConfig = z.infer<typeof compatSchema>;
