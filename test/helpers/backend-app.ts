/**
 * The whole application in process (charger listener and admin API, on free ports of 127.0.0.1), for tests that
 * act as a backend. It keeps track of the test chargers it connected so that stopping closes them first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Application, startApplication } from '../../src/application.js';
import { loadConfig, mergeLayers } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { TestCharger, type TestChargerOptions } from './backend-charger.js';

export interface BackendApp {
  app: Application;
  config: GatewayConfig;
  /** `ws://127.0.0.1:PORT/ocpp`: chargers connect at `{chargerUrl}/{identity}`. */
  chargerUrl: string;
  /** `http://127.0.0.1:PORT` of the admin API. */
  adminUrl: string;
  /** Connects a test charger that `stop` will close. */
  connect(identity: string, options?: TestChargerOptions): Promise<TestCharger>;
  /** Closes the chargers it connected, shuts the application down and removes its temp folders. */
  stop(): Promise<void>;
}

export interface BackendAppOptions {
  /** Config overrides, layered last (e.g. `{ ocpp: { maxQueuedOutboundCalls: 2 } }`). */
  overrides?: Record<string, unknown>;
  /** Log level; silent unless a test needs to see the log. */
  logLevel?: 'silent' | 'debug' | 'info';
}

/** Starts the application as `main` does, but on free ports, with temp folders and no drain period. */
export async function startBackendApp(options: BackendAppOptions = {}): Promise<BackendApp> {
  const configDir = await mkdtemp(join(tmpdir(), 'gw-backend-config-'));
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-backend-state-'));
  const removeDirs = async () => {
    await rm(configDir, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  };
  let app: Application;
  let config: GatewayConfig;
  try {
    config = loadConfig({
      configDir,
      env: {},
      overrides: mergeLayers(
        {
          server: { host: '127.0.0.1', port: 0 },
          admin: { host: '127.0.0.1', port: 0 },
          instance: { stateDir },
          shutdown: { drainMs: 0, waves: 1 },
        },
        options.overrides ?? {},
      ),
    });
    app = await startApplication(config, createLogger(options.logLevel ?? 'silent'));
  } catch (err) {
    await removeDirs();
    throw err;
  }
  const prefix = config.server.pathPrefix === '/' ? '' : config.server.pathPrefix;
  const chargerUrl = `ws://127.0.0.1:${app.gateway.port}${prefix}`;
  const adminUrl = `http://127.0.0.1:${app.admin.port}`;
  const chargers = new Set<TestCharger>();
  let stopped: Promise<void> | undefined;
  return {
    app,
    config,
    chargerUrl,
    adminUrl,
    async connect(identity, chargerOptions) {
      const charger = await TestCharger.connect(chargerUrl, identity, chargerOptions);
      chargers.add(charger);
      return charger;
    },
    stop: () =>
      (stopped ??= (async () => {
        try {
          await Promise.all([...chargers].map((c) => c.close(1000, 1000)));
          await app.shutdown();
        } finally {
          await removeDirs();
        }
      })()),
  };
}
