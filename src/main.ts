import { startApplication } from './application.js';
import { ClusterUnavailableError } from './cluster/cluster-services.js';
import { ConfigError, loadConfig } from './config/load.js';
import { redactConfig } from './config/redact.js';
import type { GatewayConfig } from './config/schema.js';
import { createLogger } from './observability/logger.js';
import { MMAP_THRESHOLD_BYTES, MMAP_THRESHOLD_VARIABLE, mallocThresholdFloats } from './observability/malloc-tuning.js';
import { guardProcess } from './observability/process-guard.js';
import { InstanceIdInUseError } from './registry/types.js';
import { TlsMaterialError } from './transport/tls-material.js';
import type { WorkerLink } from './workers/worker.js';

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ClusterUnavailableError) {
      process.stderr.write(`gateway: cannot join the cluster: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  // WORKERS > 1: this process is either the primary, which forks and watches the workers, or one of the workers,
  // each a gateway instance of its own. Loaded only then, so a single process never loads the cluster module.
  let worker: WorkerLink | undefined;
  if (config.instance.workers > 1) {
    const { default: cluster } = await import('node:cluster');
    if (cluster.isPrimary) {
      const { runPrimary } = await import('./workers/primary.js');
      await runPrimary(config, log);
      return;
    }
    const { WorkerLink } = await import('./workers/worker.js');
    worker = new WorkerLink(config);
    config = worker.config;
  }
  const appConfig = config;
  let app: Awaited<ReturnType<typeof startApplication>>;
  try {
    const start = () => startApplication(appConfig, log, undefined, { scrapeMetrics: worker && (() => (worker as WorkerLink).scrape()) });
    app = await (worker === undefined ? start() : worker.startWhenIdFree(start, log));
  } catch (err) {
    if (err instanceof ConfigError) {
      // Found only when starting (an unreadable admin token file or certificate): the same one line.
      process.stderr.write(`gateway: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof InstanceIdInUseError) {
      // A configuration error like the others: two live instances may not share a POD_ID.
      process.stderr.write(`gateway: invalid configuration at instance.id (POD_ID): ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof ClusterUnavailableError) {
      process.stderr.write(`gateway: cannot join the cluster: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof TlsMaterialError) {
      process.stderr.write(`gateway: invalid configuration at tls: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { gateway, admin } = app;
  guardProcess(log, gateway.metrics.uncaughtErrors);
  if (mallocThresholdFloats()) {
    log.warn(
      { variable: MMAP_THRESHOLD_VARIABLE, value: MMAP_THRESHOLD_BYTES },
      `started without ${MMAP_THRESHOLD_VARIABLE}=${MMAP_THRESHOLD_BYTES}: glibc may keep about 100 MiB of freed memory (npm start sets it; see README "Deploying")`,
    );
  }
  log.info({ gatewayId: gateway.id, config: redactConfig(config) }, 'effective configuration');
  log.info(
    { gatewayId: gateway.id, port: gateway.port || null, tlsPort: gateway.tlsPort || null, path: config.server.pathPrefix, adminPort: admin.port },
    'gateway accepting chargers',
  );
  // SIGHUP re-reads rotated secrets instead of ending the process: the chargers' TLS certificate, key and CA, the
  // admin token file and the admin certificate (the file watches catch changes too).
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading secrets');
    if (gateway.tlsPort !== 0) void gateway.reloadTls();
    void admin.reload();
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, chargers: gateway.sessions.size, drainMs: config.shutdown.drainMs, deadlineMs: config.shutdown.deadlineMs }, 'shutting down');
    // The drain is budgeted to end well before this (config validation guarantees the room); the timer only
    // catches a step that is truly stuck.
    const deadline = setTimeout(() => {
      log.error({ deadlineMs: config.shutdown.deadlineMs }, 'shutdown deadline passed: exiting with work left');
      process.exit(1);
    }, config.shutdown.deadlineMs);
    deadline.unref();
    app.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (worker !== undefined) {
    // The primary's request drains like a first signal; a worker that got the signal itself (Ctrl-C reaches the
    // whole process group) is already draining and goes on.
    worker.onShutdownRequest(() => {
      if (!stopping) onSignal('SIGTERM');
    });
    worker.ready(gateway.metrics.registry);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
