import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CallFailure, type CallFailureCode } from '../ocpp/call-failure.js';
import { isActionAllowed } from '../ocpp/catalogue.js';
import type { OcppValidator, SchemaViolation } from '../ocpp/validation.js';
import type { OcppVersion } from '../ocpp/versions.js';
import type { ChargerSession } from './session.js';
import type { SessionTable } from './session-table.js';

/** A command for one charger, as the backend sends it (DESIGN.md §4). */
export interface CommandRequest {
  commandId?: string;
  chargePointId: string;
  action: string;
  payload: Record<string, unknown>;
  timeoutMs?: number;
  traceId?: string;
}

export interface CommandError {
  code: CallFailureCode;
  message: string;
  ocppErrorCode?: string;
  ocppErrorDetails?: Record<string, unknown>;
  /** Schema violations of an INVALID_COMMAND_PAYLOAD. */
  errors?: Array<{ path: string; keyword: string; message: string }>;
}

export interface CommandResult {
  commandId: string;
  chargePointId: string;
  action: string;
  status: 'completed' | 'rejected';
  response?: Record<string, unknown>;
  error?: CommandError;
  durationMs: number;
  traceId?: string;
}

/**
 * Cluster mode: where a command goes when its charger is not connected here. `offline` (with the reason) when no
 * live instance holds the charger; the holder's own result otherwise (it published the `command.response` and
 * counted it); a CommandError when the holder could not be reached in time.
 */
export interface CommandForwarder {
  forward(request: CommandRequest & { commandId: string }): Promise<{ offline: string } | { result: CommandResult } | { error: CommandError }>;
}

/**
 * Judges a charger's answer to a command (its compatibility profile: repairs, then a mode per action): null when
 * it is fine or not checked; otherwise the schema breach and whether it is refused (`strict`) or only logged.
 */
export type AnswerCheck = (session: ChargerSession, action: string, response: Record<string, unknown>) => { mode: string; violation: SchemaViolation } | null;

export interface CommandObserver {
  /** Every outcome, for the `command.response` event and the metrics. */
  commandFinished(result: CommandResult, session: ChargerSession | undefined, request: CommandRequest): void;
}

/**
 * Sends backend commands to chargers connected here: checks the action against the charger's version and the
 * payload against its schema, then queues the CALL on the charger's endpoint (bounded FIFO, one in flight).
 */
export class CommandService {
  constructor(
    private readonly sessions: SessionTable,
    private readonly validators: Record<OcppVersion, OcppValidator>,
    private readonly observer: CommandObserver,
    private readonly log: Logger,
    private readonly maxTimeoutMs = 600_000,
    private readonly forwarder?: CommandForwarder,
    private readonly checkAnswer: AnswerCheck = (session, action, response) => {
      const violation = this.validators[session.protocol].validateResponse(action, response);
      return violation === null ? null : { mode: 'log', violation };
    },
  ) {}

  /**
   * Runs a command for a charger connected here; in cluster mode (a forwarder given) one connected elsewhere is
   * handed to the instance holding it, unless `forward` is false (the command was forwarded here already).
   */
  async execute(request: CommandRequest, forward = true): Promise<CommandResult> {
    const shapeProblem = describeShapeProblem(request);
    if (shapeProblem !== null) {
      // Bus callers are not schema-checked by an HTTP layer: answer them as clearly as the API would.
      const r = (request ?? {}) as Partial<CommandRequest>;
      return {
        commandId: typeof r.commandId === 'string' ? r.commandId : randomUUID(),
        chargePointId: typeof r.chargePointId === 'string' ? r.chargePointId : '',
        action: typeof r.action === 'string' ? r.action : '',
        status: 'rejected',
        error: { code: 'INVALID_COMMAND_PAYLOAD', message: shapeProblem },
        durationMs: 0,
      };
    }
    const commandId = request.commandId ?? randomUUID();
    const startedAt = performance.now();
    const session = this.sessions.get(request.chargePointId);
    const finish = (outcome: Pick<CommandResult, 'status' | 'response' | 'error'>): CommandResult => {
      const result: CommandResult = {
        commandId,
        chargePointId: request.chargePointId,
        action: request.action,
        ...outcome,
        durationMs: Math.round((performance.now() - startedAt) * 100) / 100,
        ...(request.traceId !== undefined ? { traceId: request.traceId } : {}),
      };
      this.observer.commandFinished(result, session, request);
      return result;
    };
    const reject = (error: CommandError) => finish({ status: 'rejected', error });

    if (session === undefined || session.state !== 'open') {
      if (forward && this.forwarder !== undefined) {
        const outcome = await this.forwarder.forward({ ...request, commandId });
        if ('result' in outcome) return outcome.result;
        if ('error' in outcome) return reject(outcome.error);
        return reject({ code: 'DEVICE_OFFLINE', message: outcome.offline });
      }
      return reject({ code: 'DEVICE_OFFLINE', message: `charge point ${request.chargePointId} is not connected` });
    }
    const version = session.protocol;
    if (!isActionAllowed(version, request.action, 'centralToCharger')) {
      return reject({ code: 'INVALID_COMMAND_PAYLOAD', message: `${request.action} is not a command of ${version}` });
    }
    const violation = this.validators[version].validateRequest(request.action, request.payload);
    if (violation !== null) {
      return reject({ code: 'INVALID_COMMAND_PAYLOAD', message: violation.message, errors: violation.errors });
    }
    const timeoutMs = request.timeoutMs === undefined ? undefined : Math.min(Math.max(1, request.timeoutMs), this.maxTimeoutMs);
    try {
      const response = await session.rpc.call(request.action, request.payload, timeoutMs);
      const verdict = this.checkAnswer(session, request.action, response);
      if (verdict !== null && verdict.mode === 'strict') {
        // The charger's profile wants its answers exact: the backend is told the answer is unusable, and why.
        return reject({ code: 'INVALID_RESPONSE', message: `the charger's answer breaks the schema: ${verdict.violation.message}`, errors: verdict.violation.errors });
      }
      if (verdict !== null) {
        // The charger has acted; the backend still deserves its answer, flagged in the log.
        this.log.warn(
          { chargePointId: session.identity, action: request.action, errors: verdict.violation.errors },
          'charger answered a command with a payload that breaks the schema',
        );
      }
      return finish({ status: 'completed', response });
    } catch (err) {
      if (err instanceof CallFailure) {
        return reject({
          code: err.code,
          message: err.message,
          ...(err.ocppErrorCode !== undefined ? { ocppErrorCode: err.ocppErrorCode } : {}),
          ...(err.ocppErrorDetails !== undefined ? { ocppErrorDetails: err.ocppErrorDetails } : {}),
        });
      }
      throw err;
    }
  }
}

function describeShapeProblem(request: unknown): string | null {
  if (typeof request !== 'object' || request === null) return 'a command must be an object';
  const r = request as Record<string, unknown>;
  if (typeof r.chargePointId !== 'string' || r.chargePointId === '') return 'chargePointId must be a non-empty string';
  if (typeof r.action !== 'string' || r.action === '') return 'action must be a non-empty string';
  if (typeof r.payload !== 'object' || r.payload === null || Array.isArray(r.payload)) return 'payload must be an object';
  if (r.timeoutMs !== undefined && (typeof r.timeoutMs !== 'number' || !(r.timeoutMs > 0))) return 'timeoutMs must be a positive number';
  if (r.commandId !== undefined && typeof r.commandId !== 'string') return 'commandId must be a string';
  return null;
}
