import type { FastifyInstance } from 'fastify';
import type { AdminGateway } from '../admin-gateway.js';
import { errorBody } from '../api-errors.js';
import { type ChargePointView, chargePointDetailView, chargePointView } from '../charge-point-view.js';
import { decodeCursor, encodeCursor, smallestAfter } from '../paging.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

interface ListQuery {
  limit: number;
  cursor?: string;
}

export const chargePointIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'Charge point identity (percent-encoded in the path)' } },
} as const;

/** The chargers connected to this instance: a page at a time, and one in detail. */
export function chargePointRoutes(app: FastifyInstance, gateway: AdminGateway): void {
  app.get<{ Querystring: ListQuery }>(
    '/api/v1/charge-points',
    {
      schema: {
        tags: ['charge points'],
        summary: 'Connected chargers, sorted by identity, a page at a time',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
            cursor: { type: 'string', minLength: 1, maxLength: 512, description: "The previous page's nextCursor" },
          },
        },
        response: { 200: { $ref: 'ChargePointPage#' }, ...COMMON_ERRORS },
      },
    },
    async (request, reply) => {
      const { limit, cursor } = request.query;
      let after: string | undefined;
      if (cursor !== undefined) {
        after = decodeCursor(cursor);
        if (after === undefined) {
          return reply.code(400).send(errorBody('BAD_REQUEST', 'querystring/cursor is not a cursor this API gave out', { field: 'querystring/cursor' }));
        }
      }
      const sessions = gateway.sessions;
      // One more than asked tells whether another page follows without a second pass.
      const identities = smallestAfter(identitiesOf(sessions.values()), after, limit + 1);
      const more = identities.length > limit;
      const items: ChargePointView[] = [];
      for (const identity of more ? identities.slice(0, limit) : identities) {
        const session = sessions.get(identity);
        if (session !== undefined) items.push(chargePointView(session));
      }
      const page: { items: ChargePointView[]; total: number; nextCursor?: string } = { items, total: sessions.size };
      if (more) page.nextCursor = encodeCursor(identities[limit - 1]);
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
          404: errorResponse('DEVICE_OFFLINE: the charger is not connected to this instance'),
        },
      },
    },
    async (request, reply) => {
      const session = gateway.sessions.get(request.params.id);
      if (session === undefined) {
        return reply.code(404).send(errorBody('DEVICE_OFFLINE', `charge point ${request.params.id} is not connected`, { chargePointId: request.params.id }));
      }
      return chargePointDetailView(session);
    },
  );
}

function* identitiesOf(sessions: Iterable<{ identity: string }>): Iterable<string> {
  for (const session of sessions) yield session.identity;
}
