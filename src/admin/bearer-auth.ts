import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TokenCheck } from './admin-token.js';
import { errorBody } from './api-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the bearer token: probes and scrapers (health, readiness, metrics) carry none. */
    public?: boolean;
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The `onRequest` hook that enforces `Authorization: Bearer <token>` on every route not marked public,
 * unknown routes included (so the API does not reveal which paths exist).
 */
export function bearerAuth(token: TokenCheck) {
  return async function checkBearer(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.routeOptions.config.public === true) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    // Compare even when the header is missing, so a missing and a wrong token cost the same.
    const same = token.matches(match?.[1] ?? '');
    if (match !== null && same) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="ocpp-gateway-admin"')
      .send(errorBody('UNAUTHORIZED', match === null ? 'this route needs an Authorization: Bearer <token> header' : 'the bearer token is not valid'));
  };
}
