import { readFile } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import swagger from '@fastify/swagger';
import { type FastifyError, type FastifyInstance, fastify } from 'fastify';
import { ConfigError } from '../config/load.js';
import type { AdminGateway } from './admin-gateway.js';
import { createAdminMetrics } from './admin-metrics.js';
import { AdminToken, type TokenCheck } from './admin-token.js';
import { describeError, errorBody } from './api-errors.js';
import { bearerAuth } from './bearer-auth.js';
import { type ChargerDirectory, LocalChargerDirectory } from './charger-directory.js';
import { DashboardFeed } from './dashboard-feed.js';
import { DashboardSampler } from './dashboard-sampler.js';
import { type DashboardSource, LocalDashboard } from './dashboard-source.js';
import { dashboardPageRoutes } from './dashboard-static.js';
import { EmbeddedEventFeed, type EventFeed } from './event-feed.js';
import { LocalRecorderDirectory, type RecorderDirectory } from './recorder-directory.js';
import { chargePointRoutes } from './routes/charge-points.js';
import { commandRoutes } from './routes/commands.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { protocolRoutes } from './routes/protocols.js';
import { recorderRoutes } from './routes/recorder.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { SseHub } from './sse-hub.js';

export interface AdminServerOptions {
  /** Defaults: the gateway's `admin` config. Port 0 picks a free port (tests). */
  host?: string;
  port?: number;
  /** When set, every route but /healthz, /readyz and /metrics needs `Authorization: Bearer <token>`. */
  token?: string;
  /** A file holding the token instead, watched and re-read on `reload()` (default: `admin.tokenFile`). */
  tokenFile?: string;
  /** HTTPS with these PEM files (default: `admin.tlsCertFile` and `admin.tlsKeyFile`). */
  tls?: { certFile: string; keyFile: string };
  /** Events held per slow SSE client before its stream is ended with `overflow`. */
  sseBufferEvents?: number;
  /** Bytes of events held per slow SSE client before its stream is ended with `overflow`. */
  sseBufferBytes?: number;
  /** Comment lines on idle streams keep proxies from cutting them. */
  sseHeartbeatMs?: number;
  /** How long an ended stream's client may take to read its last bytes before the socket is dropped. */
  sseLingerMs?: number;
  /**
   * Where `GET /api/v1/events` reads from. Default: this instance's live events from its bus. Cluster mode
   * passes a JetStreamEventFeed: the whole cluster's events, resumable by `Last-Event-ID`.
   */
  events?: EventFeed;
  /**
   * Where the charger listing and detail look chargers up. Default: this instance's sessions. Cluster mode
   * passes a ClusterChargerDirectory: every live instance's chargers, each with its `instance`.
   */
  chargers?: ChargerDirectory;
  /** What `/metrics` serves. Default: this gateway's registry. A worker of WORKERS > 1 passes every worker's sum. */
  scrapeMetrics?: () => Promise<string>;
  /** The built dashboard served at `/`. Default: dist/ui of this build; tests point it elsewhere. */
  dashboardDir?: string;
  /**
   * Where the flight recorder routes find recordings. Default: this instance's recorder. Cluster mode passes a
   * ClusterRecorderDirectory: the instance holding the charger records, any instance's API reaches it.
   */
  recorder?: RecorderDirectory;
  /**
   * Where the dashboard statistics come from. Default: a sampler of this gateway's metrics, started here and
   * stopped on close. Cluster mode passes a ClusterDashboard (every live instance added up); it is closed here too.
   */
  dashboard?: DashboardSource;
}

export interface AdminServer {
  /** The port actually bound. */
  port: number;
  /** Whether it serves HTTPS. */
  https: boolean;
  /** Re-reads the token file and the TLS certificate and key (SIGHUP); connections open stay as they are. */
  reload(): Promise<void>;
  /** Ends every event stream cleanly (shutdown, before the gateway closes). */
  endStreams(): void;
  /** Ends streams still open, stops listening and waits for requests in flight. Idempotent. */
  close(): Promise<void>;
}

const HEARTBEAT_MS = 15_000;
const LINGER_MS = 5_000;
/** How long close() lets streams' clients take their final event before dropping the sockets. */
const STREAM_RELEASE_MS = 1_000;

/** Builds the admin API on its own port: health, metrics, the charger list, commands, the event stream, OpenAPI, and the dashboard page at `/`. */
export async function startAdminServer(gateway: AdminGateway, options: AdminServerOptions = {}): Promise<AdminServer> {
  const config = gateway.config.admin;
  const host = options.host ?? config.host;
  const port = options.port ?? config.port;
  // A token file, when there is one, wins over a fixed token: it is the one that can be rotated.
  const tokenFile = options.tokenFile ?? config.tokenFile;
  const token = await AdminToken.open({ token: options.token ?? config.token, file: tokenFile, overlapMs: config.tokenOverlapMs, log: gateway.log });
  const tlsFiles =
    options.tls ?? (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined);
  const tls = tlsFiles && (await readTlsFiles(tlsFiles));
  const metrics = createAdminMetrics(gateway.metrics.registry);
  const feed = options.events ?? new EmbeddedEventFeed(gateway.bus);
  // The event stream and the dashboard's statistics stream follow the same rules (bounded buffers, heartbeats).
  const sseHub = (hubFeed: EventFeed) =>
    new SseHub({
      feed: hubFeed,
      metrics,
      log: gateway.log,
      bufferEvents: options.sseBufferEvents ?? config.sseBufferEvents,
      bufferBytes: options.sseBufferBytes ?? config.sseBufferBytes,
      heartbeatMs: options.sseHeartbeatMs ?? HEARTBEAT_MS,
      lingerMs: options.sseLingerMs ?? LINGER_MS,
    });
  const hub = sseHub(feed);

  const lifecycle = { closing: false };
  const chargers = options.chargers ?? new LocalChargerDirectory(gateway.sessions, undefined, gateway.recorder);
  const recorder = options.recorder ?? new LocalRecorderDirectory(gateway.recorder, gateway.sessions);
  let dashboard = options.dashboard;
  if (dashboard === undefined) {
    const sampler = new DashboardSampler(gateway.metrics, gateway.id, config.dashboardIntervalMs);
    await sampler.start();
    dashboard = new LocalDashboard(sampler);
  }
  const dashboardHub = sseHub(new DashboardFeed(dashboard));
  const routes = { chargers, recorder, dashboard, dashboardHub };
  const app = await buildApp(gateway, hub, feed, routes, metrics, token, tls, lifecycle, options.scrapeMetrics, options.dashboardDir);
  try {
    await app.listen({ host, port });
  } catch (err) {
    token?.close();
    dashboard.close();
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;

  let closing: Promise<void> | undefined;
  return {
    port: boundPort,
    https: tls !== undefined,
    reload: async () => {
      await token?.reload();
      if (tlsFiles === undefined) return;
      try {
        // New handshakes use the new certificate; connections open keep theirs.
        (app.server as unknown as TlsServer).setSecureContext({ ...(await readTlsFiles(tlsFiles)), minVersion: 'TLSv1.2' });
        gateway.log.info({ certFile: tlsFiles.certFile }, 'admin TLS certificate reloaded');
      } catch (err) {
        gateway.log.error({ certFile: tlsFiles.certFile, problem: (err as Error).message }, 'admin TLS certificate not reloaded; the one in force stays');
      }
    },
    endStreams: () => {
      hub.endAll();
      dashboardHub.endAll();
    },
    close: () =>
      (closing ??= (async () => {
        lifecycle.closing = true;
        hub.endAll();
        dashboardHub.endAll();
        await Promise.all([hub.whenReleased(STREAM_RELEASE_MS), dashboardHub.whenReleased(STREAM_RELEASE_MS)]);
        hub.destroyAll();
        dashboardHub.destroyAll();
        dashboard.close();
        token?.close();
        await app.close();
      })()),
  };
}

async function buildApp(
  gateway: AdminGateway,
  hub: SseHub,
  feed: EventFeed,
  routes: { chargers: ChargerDirectory; recorder: RecorderDirectory; dashboard: DashboardSource; dashboardHub: SseHub },
  metrics: ReturnType<typeof createAdminMetrics>,
  token: TokenCheck | undefined,
  tls: { cert: Buffer; key: Buffer } | undefined,
  lifecycle: { closing: boolean },
  scrapeMetrics: (() => Promise<string>) | undefined,
  dashboardDir: string | undefined,
): Promise<FastifyInstance> {
  const log = gateway.log;
  const app = fastify({
    // TLS 1.2 and up; Node's default cipher list is the sane one.
    ...(tls === undefined ? {} : { https: { ...tls, minVersion: 'TLSv1.2' as const } }),
    // The gateway logs with its own pino instance; requests get one debug line below.
    logger: false,
    // An unknown field is a client's mistake worth a 400, not something to drop silently.
    ajv: { customOptions: { removeAdditional: false } },
    // Answered below instead, in the API's own error shape.
    return503OnClosing: false,
  }) as unknown as FastifyInstance;

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'OCPP gateway admin API',
        version: '1',
        description: 'Chargers connected to this gateway instance, commands to them, their events, health and metrics.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: token === undefined ? [] : [{ bearer: [] }],
    },
    // Shared schemas keep their names as OpenAPI components.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.addHook('onRequest', async (_request, reply) => {
    if (!lifecycle.closing) return;
    await reply.code(503).header('connection', 'close').send(errorBody('UNAVAILABLE', 'the admin API is shutting down'));
  });
  if (token !== undefined) app.addHook('onRequest', bearerAuth(token));

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.labels(route, request.method, String(reply.statusCode)).inc();
    if (log.isLevelEnabled('debug')) {
      log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'admin request');
    }
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, body, internal } = describeError(err);
    if (internal) log.error({ err, method: request.method, url: request.url }, 'admin request failed');
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));

  healthRoutes(app, gateway, scrapeMetrics);
  chargePointRoutes(app, routes.chargers);
  commandRoutes(app, gateway);
  eventRoutes(app, hub, feed);
  recorderRoutes(app, routes.recorder);
  protocolRoutes(app);
  dashboardRoutes(app, routes.dashboard, routes.dashboardHub);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await dashboardPageRoutes(app, dashboardDir);

  await app.ready();
  return app;
}

/** The admin certificate and key; a file that cannot be read stops start-up with one line naming it. */
async function readTlsFiles(files: { certFile: string; keyFile: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string, key: string, env: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigError(`invalid configuration at admin.${key} (${env}): cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: await read(files.certFile, 'tlsCertFile', 'ADMIN_TLS_CERT_FILE'), key: await read(files.keyFile, 'tlsKeyFile', 'ADMIN_TLS_KEY_FILE') };
}
