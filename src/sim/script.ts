/**
 * The charger's script: which CALL comes next (heartbeats between sessions; a session of
 * Authorize, start, Charging, meter values, stop, Available), how an answer moves it on, and what a
 * triggered message looks like. Pure decisions on the charger's fields; sending is the shard's job.
 */
import { randomUUID } from 'node:crypto';
import { type LoadCharger, Step, type Trigger } from './load-charger.js';
import * as msg from './messages.js';
import type { MixEntry, ResolvedOptions } from './options.js';

export type OutgoingCall = [action: string, payload: Record<string, unknown>];

/** The CALL for the charger's current step. */
export function scriptCall(c: LoadCharger, o: ResolvedOptions): OutgoingCall {
  const v16 = c.version === 'ocpp1.6';
  switch (c.step) {
    case Step.Heartbeat:
      return ['Heartbeat', {}];
    case Step.Authorize:
      c.connector = (c.connector % o.connectors) + 1;
      return ['Authorize', msg.authorize(c.version, c.idTag)];
    case Step.Start:
      if (v16) return ['StartTransaction', msg.startTransaction16(c.connector, c.idTag, c.meterWh)];
      c.txId201 = randomUUID();
      c.seqNo = 0;
      return ['TransactionEvent', msg.transactionEvent201('Started', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
    case Step.StatusCharging:
      return ['StatusNotification', msg.statusNotification(c.version, c.connector, 'Charging')];
    case Step.Meter:
      c.meterWh += 150 + Math.floor(Math.random() * 300);
      if (v16) return ['MeterValues', msg.meterValues16(c.connector, c.txId16, c.meterWh)];
      return ['TransactionEvent', msg.transactionEvent201('Updated', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
    case Step.Stop:
      if (v16) return ['StopTransaction', msg.stopTransaction16(c.txId16 ?? 0, c.idTag, c.meterWh)];
      return ['TransactionEvent', msg.transactionEvent201('Ended', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh)];
    case Step.StatusAvailable:
      return ['StatusNotification', msg.statusNotification(c.version, c.connector, 'Available')];
  }
}

/**
 * Moves the script on after a paced CALL. A CALLERROR or a timeout does not stop a session:
 * the charger carries on as a charger that gave up on one message would.
 */
export function advance(c: LoadCharger, o: ResolvedOptions, error: Error | null, result: unknown): void {
  const r = (result ?? {}) as { idTagInfo?: { status?: unknown }; idTokenInfo?: { status?: unknown }; transactionId?: unknown };
  switch (c.step) {
    case Step.Heartbeat:
      if (--c.left <= 0) c.step = Step.Authorize;
      break;
    case Step.Authorize: {
      const status = c.version === 'ocpp1.6' ? r.idTagInfo?.status : r.idTokenInfo?.status;
      if (error || status === 'Accepted') c.step = Step.Start;
      else idle(c, o);
      break;
    }
    case Step.Start:
      if (c.version === 'ocpp1.6') c.txId16 = Number.isInteger(r.transactionId) ? (r.transactionId as number) : undefined;
      c.inSession = true;
      c.step = Step.StatusCharging;
      break;
    case Step.StatusCharging:
      c.step = o.meterValuesPerSession > 0 ? Step.Meter : Step.Stop;
      c.left = o.meterValuesPerSession;
      break;
    case Step.Meter:
      if (--c.left <= 0) c.step = Step.Stop;
      break;
    case Step.Stop:
      c.inSession = false;
      c.txId16 = undefined;
      c.step = Step.StatusAvailable;
      break;
    case Step.StatusAvailable:
      idle(c, o);
      break;
  }
}

/** Back to the heartbeats between sessions (or straight to the next session when there are none). */
function idle(c: LoadCharger, o: ResolvedOptions): void {
  c.left = o.heartbeatsBetweenSessions;
  c.step = c.left > 0 ? Step.Heartbeat : Step.Authorize;
}

/** Applies a remote start or stop the central system asked for to the script, before the next slot. */
export function applyRemoteRequests(c: LoadCharger): void {
  if (c.remoteStart && !c.inSession && c.step === Step.Heartbeat) c.step = Step.Authorize;
  if (c.remoteStop && c.inSession && c.step !== Step.Stop) c.step = Step.Stop;
  c.remoteStart = false;
  c.remoteStop = false;
}

/** The triggers a TriggerMessage asks for: a StatusNotification without a connector means every connector. */
export function expandTrigger(c: LoadCharger, o: ResolvedOptions, action: string, connector: number | undefined): Trigger[] {
  if (action !== 'StatusNotification' || connector !== undefined) return [{ action, connector }];
  const list: Trigger[] = [];
  for (let k = c.version === 'ocpp1.6' ? 0 : 1; k <= o.connectors; k++) list.push({ action, connector: k });
  return list;
}

/** The CALL a trigger asks for, or undefined when the charger has nothing of that kind to send. */
export function triggeredCall(c: LoadCharger, t: Trigger): OutgoingCall | undefined {
  const v16 = c.version === 'ocpp1.6';
  const connector = t.connector ?? (c.inSession ? c.connector : 1);
  switch (t.action) {
    case 'BootNotification':
      return ['BootNotification', msg.bootNotification(c.version, c.identity)];
    case 'StatusNotification': {
      const k = v16 ? connector : Math.max(1, connector);
      return ['StatusNotification', msg.statusNotification(c.version, k, c.inSession && k === c.connector ? 'Charging' : 'Available')];
    }
    case 'MeterValues':
      if (v16) return ['MeterValues', msg.meterValues16(connector, c.inSession && connector === c.connector ? c.txId16 : undefined, c.meterWh)];
      return ['MeterValues', msg.meterValues201(Math.max(1, connector), c.meterWh)];
    case 'TransactionEvent':
      if (!c.inSession || v16) return undefined;
      return ['TransactionEvent', { ...msg.transactionEvent201('Updated', c.seqNo++, c.txId201, c.connector, c.idTag, c.meterWh), triggerReason: 'Trigger' }];
    default: {
      const payload = msg.idleNotification(t.action);
      return payload ? [t.action, payload] : undefined;
    }
  }
}

/**
 * The next CALL of a `--mix` charger: an action drawn by weight, with the payload a charger outside a session sends
 * (meter values without a transaction, connector Available). No script state moves: each draw is independent.
 */
export function mixCall(c: LoadCharger, o: ResolvedOptions, mix: MixEntry[]): OutgoingCall {
  const r = Math.random() * mix[mix.length - 1].upTo;
  const action = (mix.find((e) => r < e.upTo) ?? mix[mix.length - 1]).action;
  const v16 = c.version === 'ocpp1.6';
  c.connector = (c.connector % o.connectors) + 1;
  switch (action) {
    case 'MeterValues':
      c.meterWh += 150 + Math.floor(Math.random() * 300);
      return ['MeterValues', v16 ? msg.meterValues16(c.connector, undefined, c.meterWh) : msg.meterValues201(c.connector, c.meterWh)];
    case 'StatusNotification':
      return ['StatusNotification', msg.statusNotification(c.version, c.connector, 'Available')];
    default:
      return ['Heartbeat', {}];
  }
}
