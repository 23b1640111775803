import type { FastifyInstance } from 'fastify';
import { errorBody } from '../api-errors.js';
import type { EventFeed } from '../event-feed.js';
import { COMMON_ERRORS, errorResponse } from '../schemas.js';
import type { SseHub } from '../sse-hub.js';

interface EventsQuery {
  chargePointId?: string[];
  eventType?: string[];
}

/**
 * The unified events as server-sent events, filtered per stream: this instance's live events (embedded feed),
 * or the whole cluster's from the events stream, resumable with `Last-Event-ID` (JetStream feed).
 */
export function eventRoutes(app: FastifyInstance, hub: SseHub, feed: EventFeed): void {
  app.get<{ Querystring: EventsQuery }>(
    '/api/v1/events',
    {
      // A HEAD would open a stream nobody reads.
      exposeHeadRoute: false,
      schema: {
        tags: ['events'],
        summary: 'Stream of gateway events (text/event-stream)',
        description:
          'Each event is `id: <id>`, `event: <eventType>`, `data: <envelope JSON>`. A comment line is sent every 15 s. ' +
          'Embedded mode: live events of this instance, `id` is the eventId, `Last-Event-ID` is ignored. ' +
          "Cluster mode: the whole cluster's events, `id` is the events stream's sequence; with `Last-Event-ID: n` the stream " +
          'starts with the events stored after n (those still kept), without it with the events stored from then on. ' +
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
          503: errorResponse('UNAVAILABLE: the gateway is shutting down, or the events stream cannot be read now'),
        },
      },
    },
    async (request, reply) => {
      if (hub.isEnding) return reply.code(503).send(errorBody('UNAVAILABLE', 'the gateway is shutting down; event streams are closed'));
      const header = request.headers['last-event-id'];
      const lastEventId = Array.isArray(header) ? header[0] : header;
      if (lastEventId !== undefined) {
        const problem = feed.checkLastEventId(lastEventId);
        if (problem !== undefined) return reply.code(400).send(errorBody('BAD_REQUEST', problem, { field: 'headers/last-event-id' }));
      }
      if (!feed.isReady()) return reply.code(503).send(errorBody('UNAVAILABLE', 'the events stream cannot be read now; retry later'));
      reply.hijack();
      await hub.open(reply.raw, { chargePointIds: request.query.chargePointId, eventTypes: request.query.eventType }, lastEventId, request.ip);
    },
  );
}
