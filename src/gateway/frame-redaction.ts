/**
 * Credentials taken out of OCPP-J frames before the flight recorder keeps them: a recording is handed to people
 * (a firmware vendor, a support ticket), and the frames that configure a charger carry its passwords.
 *
 * What is replaced by "***":
 * - any JSON property whose name contains `password` or `authorizationKey` (any case), wherever it is, e.g.
 *   SetNetworkProfile's `basicAuthPassword`;
 * - OCPP 1.6 configuration keys (ChangeConfiguration's `{ key, value }`, GetConfiguration's
 *   `configurationKey[]`): the `value` of a key whose name contains `Password` or `AuthorizationKey`;
 * - OCPP 2.0.1 device model variables (Set/GetVariables, NotifyReport): the `attributeValue` (or each
 *   `variableAttribute[].value`) of a variable whose name contains `Password` or `AuthorizationKey`, e.g.
 *   `BasicAuthPassword`.
 *
 * The rules look at the shape, not at the action: a CALLRESULT does not name its action, and a shape that
 * carries a credential is one wherever it appears.
 */

export const REDACTED = '***';

const SECRET_NAME = /password|authorizationkey/i;

/** Whether the text may hold a credential at all: frames without one are kept exactly as they were sent. */
export function mayHoldCredentials(text: string): boolean {
  return SECRET_NAME.test(text);
}

/**
 * The frame with its credentials replaced, re-serialized; the text itself when it holds none or is not JSON
 * (a frame that is not JSON is what a vendor needs to see as it was, and the gateway never sends one).
 */
export function redactFrame(text: string): string {
  if (!mayHoldCredentials(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  return redactValue(parsed, 0) ? JSON.stringify(parsed) : text;
}

/** Frames are bounded in size, but not in depth: deeper than this nothing is looked at (and nothing of OCPP is). */
const MAX_DEPTH = 64;

/** Redacts in place; true when anything was replaced. */
function redactValue(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
  let changed = false;
  if (Array.isArray(value)) {
    for (const item of value) if (redactValue(item, depth + 1)) changed = true;
    return changed;
  }
  const object = value as Record<string, unknown>;
  if (typeof object.key === 'string' && SECRET_NAME.test(object.key) && 'value' in object) {
    object.value = REDACTED;
    changed = true;
  }
  const variable = object.variable as { name?: unknown } | undefined;
  if (typeof variable === 'object' && variable !== null && typeof variable.name === 'string' && SECRET_NAME.test(variable.name)) {
    if ('attributeValue' in object) {
      object.attributeValue = REDACTED;
      changed = true;
    }
    if (Array.isArray(object.variableAttribute)) {
      for (const attribute of object.variableAttribute) {
        if (typeof attribute === 'object' && attribute !== null && 'value' in attribute) {
          (attribute as Record<string, unknown>).value = REDACTED;
          changed = true;
        }
      }
    }
  }
  for (const [name, child] of Object.entries(object)) {
    if (SECRET_NAME.test(name)) {
      object[name] = REDACTED;
      changed = true;
    } else if (redactValue(child, depth + 1)) {
      changed = true;
    }
  }
  return changed;
}
