import type { FastifyInstance, FastifyReply } from 'fastify';
import type { OcppVersion } from '../../ocpp/versions.js';
import { RegistryUnavailableError } from '../../registry/types.js';
import { errorBody } from '../api-errors.js';
import type { ChargerDirectory, ListedCharger } from '../charger-directory.js';
import { InstanceUnavailableError } from '../cluster-charger-directory.js';
import { decodeCursor, encodeCursor } from '../paging.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

interface ListQuery {
  limit: number;
  cursor?: string;
  q?: string;
  protocol?: OcppVersion;
}

export const chargePointIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'Charge point identity (percent-encoded in the path)' } },
} as const;

/**
 * The connected chargers, a page at a time, and one in detail: this instance's (embedded mode) or the whole
 * cluster's, as the directory sees them.
 */
export function chargePointRoutes(app: FastifyInstance, directory: ChargerDirectory): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v1/charge-points',
    {
      schema: {
        tags: ['charge points'],
        summary: 'Connected chargers, sorted by identity, a page at a time, optionally filtered (`total` counts the matching ones)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
            cursor: { type: 'string', minLength: 1, maxLength: 512, description: "The previous page's nextCursor" },
            q: { type: 'string', minLength: 1, maxLength: 128, description: 'Only chargers whose identity, boot vendor or boot model contains this (any case)' },
            protocol: { type: 'string', enum: ['ocpp1.6', 'ocpp2.0.1'], description: 'Only chargers speaking this version' },
          },
        },
        response: {
          200: { $ref: 'ChargePointPage#' },
          ...COMMON_ERRORS,
          503: errorResponse('UNAVAILABLE: cluster mode, the registry did not answer'),
        },
      },
    },
    async (request, reply) => {
      const { limit, cursor, q, protocol } = request.query;
      let after: string | undefined;
      if (cursor !== undefined) {
        after = decodeCursor(cursor);
        if (after === undefined) {
          return reply.code(400).send(errorBody('BAD_REQUEST', 'querystring/cursor is not a cursor this API gave out', { field: 'querystring/cursor' }));
        }
      }
      let result: Awaited<ReturnType<ChargerDirectory['page']>>;
      try {
        result = await directory.page(after, limit, q === undefined && protocol === undefined ? undefined : { q, protocol });
      } catch (err) {
        return unavailable(reply, err);
      }
      const { items, more, total, missingInstances } = result;
      const page: { items: ListedCharger[]; total: number; nextCursor?: string; partial?: boolean; missingInstances?: string[] } = { items, total };
      if (more && items.length > 0) page.nextCursor = encodeCursor(items[items.length - 1].identity);
      if (missingInstances.length > 0) {
        page.partial = true;
        page.missingInstances = missingInstances;
      }
      return page;
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/charge-points/:id',
    {
      schema: {
        tags: ['charge points'],
        summary: 'One connected charger with its connector statuses and open transactions as last reported',
        params: chargePointIdParams,
        response: {
          200: { $ref: 'ChargePointDetail#' },
          ...COMMON_ERRORS,
          404: errorResponse('DEVICE_OFFLINE: the charger is not connected (to this instance; in cluster mode, to any instance)'),
          503: errorResponse('UNAVAILABLE: cluster mode, the registry or the instance holding the charger did not answer; `instance` names it'),
        },
      },
    },
    async (request, reply) => {
      let charger: Awaited<ReturnType<ChargerDirectory['detail']>>;
      try {
        charger = await directory.detail(request.params.id);
      } catch (err) {
        return unavailable(reply, err);
      }
      if (charger === undefined) {
        return reply.code(404).send(errorBody('DEVICE_OFFLINE', `charge point ${request.params.id} is not connected`, { chargePointId: request.params.id }));
      }
      return charger;
    },
  );
}

/** A cluster look-up that could not be made: 503 with what did not answer; anything else is a bug (500). */
function unavailable(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof InstanceUnavailableError) return reply.code(503).send(errorBody('UNAVAILABLE', err.message, { instance: err.instance }));
  if (err instanceof RegistryUnavailableError) return reply.code(503).send(errorBody('UNAVAILABLE', err.message));
  throw err;
}
