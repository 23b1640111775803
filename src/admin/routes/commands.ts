import type { FastifyInstance } from 'fastify';
import type { AdminGateway } from '../admin-gateway.js';
import { COMMAND_FAILURE_STATUS, errorBody } from '../api-errors.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';
import { chargePointIdParams } from './charge-points.js';

interface CallBody {
  action: string;
  payload: Record<string, unknown>;
  timeoutMs?: number;
  commandId?: string;
  traceId?: string;
}

/** Commands to chargers: one OCPP CALL per request, answered with the charger's CALLRESULT or a named failure. */
export function commandRoutes(app: FastifyInstance, gateway: AdminGateway): void {
  app.post<{ Params: { id: string }; Body: CallBody }>(
    '/api/v1/charge-points/:id/calls',
    {
      schema: {
        tags: ['commands'],
        summary: 'Sends a central-system action to a charger and waits for its answer',
        description:
          "The payload is checked against the action's schema for the charger's OCPP version first. Commands to one " +
          'charger queue behind the one in flight (bounded); every outcome is also a `command.response` event.',
        params: chargePointIdParams,
        body: { $ref: 'CommandRequest#' },
        response: {
          200: { $ref: 'CommandResult#' },
          ...COMMON_ERRORS,
          400: errorResponse(
            "BAD_REQUEST (the request breaks the schema) or INVALID_COMMAND_PAYLOAD (with `errors`; also an action the charger's version does not have)",
          ),
          404: errorResponse('DEVICE_OFFLINE: the charger is not connected (in cluster mode: to any live instance)'),
          429: errorResponse('QUEUE_FULL: too many commands wait for this charger'),
          502: errorResponse('CALL_ERROR: the charger answered with a CALLERROR (`ocppErrorCode`, `ocppErrorDetails`)'),
          504: errorResponse('TIMEOUT: the charger did not answer in time'),
        },
      },
    },
    async (request, reply) => {
      const { action, payload, timeoutMs, commandId, traceId } = request.body;
      const result = await gateway.commands.execute({
        chargePointId: request.params.id,
        action,
        payload,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(commandId !== undefined ? { commandId } : {}),
        ...(traceId !== undefined ? { traceId } : {}),
      });
      if (result.status === 'completed') return result;
      const { code, message, ...details } = result.error ?? { code: 'CALL_ERROR' as const, message: 'the command was rejected' };
      if (code === 'QUEUE_FULL') reply.header('retry-after', '1');
      return reply.code(COMMAND_FAILURE_STATUS[code] ?? 502).send(
        errorBody(code, message, {
          ...details,
          commandId: result.commandId,
          chargePointId: result.chargePointId,
          action: result.action,
          durationMs: result.durationMs,
          ...(result.traceId !== undefined ? { traceId: result.traceId } : {}),
        }),
      );
    },
  );
}
