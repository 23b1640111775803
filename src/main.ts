import { loadConfig, ConfigError } from './config/load.js';
import { redactConfig } from './config/redact.js';
import { createLogger } from './observability/logger.js';
import { Gateway } from './gateway/gateway.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  const gateway = await Gateway.create({ config, log });
  log.info({ gatewayId: gateway.id, config: redactConfig(config) }, 'effective configuration');
  const port = await gateway.start();
  log.info({ gatewayId: gateway.id, port, path: config.server.pathPrefix }, 'gateway accepting chargers');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`gateway: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
