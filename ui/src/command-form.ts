/**
 * Sends any command of the charger's OCPP version. The payload is checked in the page against the exact schema
 * the gateway validates it with (from /api/v1/protocols/:protocol/commands), so a typo is shown with its path
 * before anything reaches the charger; the charger's answer, or the failure's code, is shown after.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { ApiError, chargerPath, getJson, sendJson } from './api';
import { fill, h } from './dom';
import { examplePayload } from './examples';
import type { CommandCatalogue, CommandResult, Protocol } from './types';

const catalogues = new Map<Protocol, Promise<CommandCatalogue>>();

function catalogue(protocol: Protocol): Promise<CommandCatalogue> {
  let found = catalogues.get(protocol);
  if (found === undefined) {
    found = getJson<CommandCatalogue>(`/api/v1/protocols/${encodeURIComponent(protocol)}/commands`);
    // A failed load (a 401 before the token was given) is tried again next time.
    found.catch(() => catalogues.delete(protocol));
    catalogues.set(protocol, found);
  }
  return found;
}

/** The same options the gateway compiles the OCPP schemas with (src/ocpp/validation.ts), but every error reported. */
function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, multipleOfPrecision: 9, validateSchema: false });
  addFormats(ajv, ['date-time', 'uri']);
  return ajv;
}

const validators = new Map<string, ValidateFunction>();

function validatorFor(protocol: Protocol, action: string, schema: Record<string, unknown>): ValidateFunction {
  const key = `${protocol} ${action}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    // The files' ids are URNs ajv will not resolve; every $ref in them is local, so the id carries nothing.
    const { $id: _id, ...rest } = schema;
    validate = newAjv().compile(rest);
    validators.set(key, validate);
  }
  return validate;
}

/** `/connectorId must be integer`, `/idTag is required`: where the payload fails, as the operator typed it. */
export function describeProblems(errors: ErrorObject[]): string[] {
  return errors.map((e) => {
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') return `${e.instancePath}/${String(params.missingProperty)} is required`;
    if (e.keyword === 'additionalProperties') return `${e.instancePath}/${String(params.additionalProperty)} is not allowed`;
    if (e.keyword === 'enum') return `${e.instancePath || '/'} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
  });
}

export function commandForm(chargerId: string, protocol: Protocol): HTMLElement {
  const action = h('select', { 'aria-label': 'Action', 'data-testid': 'command-action', disabled: true }, h('option', {}, 'loading…'));
  const payload = h('textarea', { rows: 8, spellcheck: false, 'aria-label': 'Payload (JSON)', 'data-testid': 'command-payload' });
  const timeout = h('input', { type: 'number', min: 1, max: 600, placeholder: '30', 'aria-label': 'Timeout in seconds', 'data-testid': 'command-timeout' });
  const send = h('button', { type: 'submit', 'data-testid': 'command-send', disabled: true }, 'Send');
  const outcome = h('div', { class: 'outcome', 'data-testid': 'command-outcome', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'command' },
    h('label', {}, 'Action ', action),
    h('label', { class: 'block' }, 'Payload ', payload),
    h('label', {}, 'Timeout (s) ', timeout),
    send,
    outcome,
  );
  const schemas = new Map<string, Record<string, unknown>>();

  const prefill = () => {
    const schema = schemas.get(action.value);
    if (schema !== undefined) payload.value = JSON.stringify(examplePayload(protocol, action.value, schema), null, 2);
    fill(outcome);
  };

  void catalogue(protocol).then(
    (list) => {
      const commands = [...list.commands].sort((a, b) => (a.action < b.action ? -1 : 1));
      for (const c of commands) schemas.set(c.action, c.requestSchema);
      fill(action, ...commands.map((c) => h('option', { value: c.action }, c.action)));
      action.disabled = false;
      send.disabled = false;
      prefill();
    },
    (err: Error) => fill(outcome, h('p', { class: 'error' }, `The commands of ${protocol} did not load: ${err.message}`)),
  );
  action.addEventListener('change', prefill);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const schema = schemas.get(action.value);
    if (schema === undefined) return;
    let value: unknown;
    try {
      value = JSON.parse(payload.value);
    } catch (err) {
      fill(outcome, problemList('The payload is not JSON', [(err as Error).message]));
      return;
    }
    const validate = validatorFor(protocol, action.value, schema);
    if (!validate(value)) {
      fill(outcome, problemList(`The payload does not match the ${action.value} schema; nothing was sent`, describeProblems(validate.errors ?? [])));
      return;
    }
    const seconds = timeout.valueAsNumber;
    const body = { action: action.value, payload: value, ...(Number.isFinite(seconds) && seconds > 0 ? { timeoutMs: Math.round(seconds * 1000) } : {}) };
    send.disabled = true;
    fill(outcome, h('p', { class: 'muted' }, `Sending ${action.value}…`));
    try {
      const result = await sendJson<CommandResult>('POST', chargerPath(chargerId, '/calls'), body);
      fill(
        outcome,
        h('p', { class: 'ok', 'data-testid': 'command-result-status' }, `${result.action} answered in ${Math.round(result.durationMs)} ms`),
        h('pre', { class: 'json', 'data-testid': 'command-response' }, JSON.stringify(result.response, null, 2)),
      );
    } catch (err) {
      fill(outcome, failure(err));
    } finally {
      send.disabled = false;
    }
  });
  return form;
}

function problemList(title: string, problems: string[]): HTMLElement {
  return h('div', { class: 'error', 'data-testid': 'command-problems' }, h('p', {}, title), h('ul', {}, ...problems.map((p) => h('li', {}, p))));
}

/** The API's failure: its code first (what the operator acts on), then what it says. */
function failure(err: unknown): HTMLElement {
  if (!(err instanceof ApiError)) return h('p', { class: 'error' }, String(err));
  const details: Record<string, unknown> = err.body?.error ?? {};
  const lines: string[] = [];
  if (typeof details.ocppErrorCode === 'string') lines.push(`OCPP error: ${details.ocppErrorCode}`);
  if (details.ocppErrorDetails !== undefined) lines.push(`details: ${JSON.stringify(details.ocppErrorDetails)}`);
  if (Array.isArray(details.errors)) for (const e of details.errors as Array<{ message?: string }>) if (e?.message) lines.push(e.message);
  return h(
    'div',
    { class: 'error' },
    h('p', {}, h('strong', { 'data-testid': 'command-error-code' }, err.code), ` ${err.message}`),
    lines.length > 0 ? h('ul', {}, ...lines.map((l) => h('li', {}, l))) : null,
  );
}
