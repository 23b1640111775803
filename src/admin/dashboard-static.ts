import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './api-errors.js';

/** Where `npm run build` puts the bundled page: dist/ui, two folders up from this compiled module (dist/src/admin). */
export const BUILT_DASHBOARD_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * The page may run ajv's compiled validators (`unsafe-eval`) and talk to this origin only; nothing is loaded from
 * elsewhere, and it may not be framed (the admin token is typed into it).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Serves the operator dashboard at `/`: the files Vite built, one route per file found at start-up (no
 * wildcard route, so an unknown path still gets the API's 404, or its 401 when a token is configured). The
 * files are public: the shell holds no data and every /api call it makes carries the token. Names under
 * assets/ carry a content hash and never change; index.html is revalidated on every load so a new build shows.
 */
export async function dashboardPageRoutes(app: FastifyInstance, dir: string = BUILT_DASHBOARD_DIR): Promise<void> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
      reply.code(503).send(errorBody('UNAVAILABLE', 'the dashboard was not built: run `npm run build`')),
    );
    return;
  }
  await app.register(async (scope) => {
    // Every route of this scope (the static files) is public; the hook sees only routes registered in it.
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), public: true };
    });
    scope.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode < 400) {
        const immutable = request.url.startsWith('/assets/');
        reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      return payload;
    });
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: '/',
      wildcard: false,
      index: ['index.html'],
      // Set per file by the hook above instead of send's one max-age for all.
      cacheControl: false,
      dotfiles: 'ignore',
    });
  });
}
