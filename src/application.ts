import type { Logger } from 'pino';
import { type AdminServer, startAdminServer } from './admin/admin-server.js';
import type { Bus } from './bus/types.js';
import type { GatewayConfig } from './config/schema.js';
import { shutdownDrainBudget } from './config/shutdown-budget.js';
import { Gateway } from './gateway/gateway.js';

export interface Application {
  gateway: Gateway;
  admin: AdminServer;
  /** Graceful shutdown (DESIGN.md §3): not ready → stop accepting → drain chargers in waves → flush → exit. */
  shutdown(): Promise<void>;
}

/** Starts the whole gateway process: the charger listener and the admin API around it. */
export async function startApplication(config: GatewayConfig, log: Logger, bus?: Bus): Promise<Application> {
  const gateway = await Gateway.create({ config, log, bus });
  await gateway.start();
  let admin: AdminServer;
  try {
    admin = await startAdminServer(gateway, { host: config.admin.host, port: config.admin.port, token: config.admin.token });
  } catch (err) {
    await gateway.stop();
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
      await gateway.close();
      await admin.close();
      log.info({ chargers, ms: Date.now() - startedAt }, 'shutdown complete');
    })());

  return { gateway, admin, shutdown };
}
