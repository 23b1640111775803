import type { Logger } from 'pino';
import { type AdminServer, startAdminServer } from './admin/admin-server.js';
import { ClusterChargerDirectory, serveChargerDirectory } from './admin/cluster-charger-directory.js';
import { DashboardSampler } from './admin/dashboard-sampler.js';
import { ClusterDashboard, serveDashboard } from './admin/dashboard-source.js';
import { JetStreamEventFeed } from './admin/jetstream-event-feed.js';
import { ClusterRecorderDirectory, LocalRecorderDirectory, serveRecorder } from './admin/recorder-directory.js';
import type { Bus } from './bus/types.js';
import { type ClusterServices, startClusterServices } from './cluster/cluster-services.js';
import { type GatewayConfig, isClusterMode } from './config/schema.js';
import { shutdownDrainBudget } from './config/shutdown-budget.js';
import { Gateway } from './gateway/gateway.js';
import type { CredentialStore } from './security/credential-store.js';
import { openCredentialStore } from './security/open-credential-store.js';
import { PasswordVerifier } from './security/password-verifier.js';

export interface Application {
  gateway: Gateway;
  admin: AdminServer;
  /** Graceful shutdown (DESIGN.md §3): not ready → stop accepting → drain chargers in waves → flush → exit. */
  shutdown(): Promise<void>;
}

/**
 * Starts the whole gateway process: the charger listener and the admin API around it. With NATS_URL and
 * REDIS_URL configured it joins the cluster first (connects both, registers POD_ID), else runs embedded.
 */
export interface ApplicationOptions {
  /** What `/metrics` serves instead of this gateway's own registry: a worker of WORKERS > 1 serves every worker's sum. */
  scrapeMetrics?: () => Promise<string>;
}

export async function startApplication(config: GatewayConfig, log: Logger, bus?: Bus, options: ApplicationOptions = {}): Promise<Application> {
  let cluster: ClusterServices | undefined;
  // The schema guarantees POD_ID in cluster mode.
  if (isClusterMode(config)) cluster = await startClusterServices(config, config.instance.id as string, log);
  let store: CredentialStore;
  try {
    // Chargers' passwords and pins: the file by default, Redis in cluster mode (every instance sees the same).
    store = await openCredentialStore(config);
  } catch (err) {
    await cluster?.registry.close();
    await cluster?.bus.close();
    throw err;
  }
  const { verifyConcurrency, verifyQueue } = config.security;
  const verifier = new PasswordVerifier({ concurrency: verifyConcurrency === 0 ? undefined : verifyConcurrency, queue: verifyQueue });
  const credentials = { store, verifyPassword: verifier.verify.bind(verifier) };
  let gateway: Gateway;
  try {
    gateway = await Gateway.create({ config, log, bus, cluster, credentials });
  } catch (err) {
    await store.close();
    await cluster?.registry.close();
    await cluster?.bus.close();
    throw err;
  }
  try {
    await gateway.start();
  } catch (err) {
    // Gives the POD_ID back at once rather than after the registration's TTL.
    await store.close();
    await cluster?.registry.close();
    await cluster?.bus.close();
    throw err;
  }
  let admin: AdminServer;
  // In a cluster the admin API of any instance shows the whole cluster: its event stream reads the JetStream
  // stream (resumable by Last-Event-ID), its charger listing asks every live instance, and this instance answers
  // the others' listings; the same for recordings and the dashboard's statistics.
  const clusterAdmin = cluster && (await startClusterAdmin(gateway, cluster));
  try {
    admin = await startAdminServer(gateway, {
      host: config.admin.host,
      port: config.admin.port,
      token: config.admin.token,
      events: clusterAdmin?.events,
      chargers: clusterAdmin?.chargers,
      recorder: clusterAdmin?.recorder,
      dashboard: clusterAdmin?.dashboard,
      scrapeMetrics: options.scrapeMetrics,
    });
  } catch (err) {
    clusterAdmin?.dashboard.close();
    for (const responder of clusterAdmin?.responders ?? []) responder.unsubscribe();
    await gateway.stop();
    await store.close();
    throw err;
  }

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      const startedAt = Date.now();
      const chargers = gateway.sessions.size;
      gateway.stopAccepting();
      // Every wait of the drain fits in the deadline, with room left for the steps below.
      await gateway.drain(config.shutdown.drainMs, config.shutdown.waves, shutdownDrainBudget(config.shutdown));
      admin.endStreams();
      for (const responder of clusterAdmin?.responders ?? []) responder.unsubscribe();
      await gateway.close();
      await store.close();
      await admin.close();
      log.info({ chargers, ms: Date.now() - startedAt }, 'shutdown complete');
    })());

  return { gateway, admin, shutdown };
}

/** What the admin API of a cluster instance reads from the whole cluster, and what this instance answers for it. */
async function startClusterAdmin(gateway: Gateway, cluster: ClusterServices) {
  const { bus, registry, instanceId } = cluster;
  const { sessions, recorder } = gateway;
  const metrics = gateway.metrics.registry;
  const localRecorder = new LocalRecorderDirectory(recorder, sessions, instanceId);
  const sampler = new DashboardSampler(gateway.metrics, instanceId, gateway.config.admin.dashboardIntervalMs);
  await sampler.start();
  return {
    events: new JetStreamEventFeed(bus),
    chargers: new ClusterChargerDirectory({ registry, bus, instanceId, sessions, metrics, recorder }),
    recorder: new ClusterRecorderDirectory({ registry, bus, instanceId, local: localRecorder }),
    dashboard: new ClusterDashboard({ registry, bus, instanceId, sampler }),
    responders: [
      serveChargerDirectory({ bus, instanceId, sessions, metrics, recorder }),
      serveRecorder({ bus, instanceId, local: localRecorder, metrics }),
      serveDashboard({ bus, instanceId, sampler }),
    ],
  };
}
