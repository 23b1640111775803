import type { FastifyInstance } from 'fastify';
import { errorBody } from '../api-errors.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';
import type { SseHub } from '../sse-hub.js';

interface EventsQuery {
  chargePointId?: string[];
  eventType?: string[];
}

/** The unified events as server-sent events, live (no replay), filtered per stream. */
export function eventRoutes(app: FastifyInstance, hub: SseHub): void {
  app.get<{ Querystring: EventsQuery }>(
    '/api/v1/events',
    {
      // A HEAD would open a stream nobody reads.
      exposeHeadRoute: false,
      schema: {
        tags: ['events'],
        summary: 'Live stream of gateway events (text/event-stream)',
        description:
          'Each event is `id: <eventId>`, `event: <eventType>`, `data: <envelope JSON>`. A comment line is sent every 15 s. ' +
          'A client that reads too slowly for its buffer gets a final `event: overflow` naming the last event it was sent; ' +
          'at shutdown every stream ends with `event: end`. Repeat a parameter to give several values.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            chargePointId: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000, description: 'Only these chargers' },
            eventType: {
              type: 'array',
              items: { type: 'string', minLength: 1, maxLength: 128 },
              maxItems: 100,
              description: 'Only these event types; a value ending in "." is a prefix, e.g. `transaction.`',
            },
          },
        },
        response: {
          200: { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...COMMON_ERRORS,
          503: errorResponse('UNAVAILABLE: the gateway is shutting down'),
        },
      },
    },
    async (request, reply) => {
      if (hub.isEnding) return reply.code(503).send(errorBody('UNAVAILABLE', 'the gateway is shutting down; event streams are closed'));
      reply.hijack();
      hub.open(reply.raw, { chargePointIds: request.query.chargePointId, eventTypes: request.query.eventType }, request.ip);
    },
  );
}
