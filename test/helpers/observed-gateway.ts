/**
 * An in-process gateway with its admin API, whose every event and every log line a test can read: events are
 * taken off the bus as they are published (the in-process bus delivers synchronously, in publish order), log
 * lines are pino's JSON written to a stream the test holds.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type AdminServer, startAdminServer } from '../../src/admin/admin-server.js';
import { SUBJECTS } from '../../src/bus/types.js';
import { loadConfig, mergeLayers } from '../../src/config/load.js';
import type { GatewayEvent } from '../../src/events/index.js';
import { Gateway, type GatewayCredentials } from '../../src/gateway/gateway.js';
import { TestCharger, type TestChargerOptions } from './backend-charger.js';

export interface ObservedGateway {
  gateway: Gateway;
  admin: AdminServer;
  /** `ws://127.0.0.1:PORT/ocpp`. */
  chargerUrl: string;
  /** `wss://127.0.0.1:TLS_PORT/ocpp` when TLS is configured. */
  tlsUrl: string | undefined;
  adminUrl: string;
  stateDir: string;
  /** Every event published so far, in publish order. */
  events: GatewayEvent<any>[];
  /** Every log line so far, parsed. */
  logs: Array<Record<string, any>>;
  /** The events of one charger, in order. */
  eventsOf(chargePointId: string): GatewayEvent<any>[];
  connect(identity: string, options?: TestChargerOptions): Promise<TestCharger>;
  /** Graceful stop: chargers closed with 1001, state written, admin closed; temp folders removed unless kept. */
  stop(): Promise<void>;
}

export interface ObservedOptions {
  overrides?: Record<string, unknown>;
  /** Reuse a state folder (to restart on it); it is then left in place. */
  stateDir?: string;
  logLevel?: 'warn' | 'info' | 'debug';
  /** The credential store and password check the gateway authenticates chargers with. */
  credentials?: GatewayCredentials;
}

export async function startObservedGateway(options: ObservedOptions = {}): Promise<ObservedGateway> {
  const configDir = await mkdtemp(join(tmpdir(), 'gw-obs-config-'));
  const ownState = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'gw-obs-state-')));
  const logs: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, any>);
      }
      done();
    },
  });
  const config = loadConfig({
    configDir,
    env: {},
    overrides: mergeLayers({ server: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, instance: { stateDir } }, options.overrides ?? {}),
  });
  const log = pino({ level: options.logLevel ?? 'warn' }, sink);
  const gateway = await Gateway.create({ config, log, credentials: options.credentials });
  const events: GatewayEvent<any>[] = [];
  gateway.bus.subscribe(SUBJECTS.allEvents, (message) => {
    events.push(message.data as GatewayEvent<any>);
  });
  const port = await gateway.start();
  const admin = await startAdminServer(gateway, { host: '127.0.0.1', port: 0 });
  const chargerUrl = `ws://127.0.0.1:${port}${config.server.pathPrefix}`;
  const chargers = new Set<TestCharger>();
  let stopped: Promise<void> | undefined;
  return {
    gateway,
    admin,
    chargerUrl,
    tlsUrl: gateway.tlsPort === 0 ? undefined : `wss://127.0.0.1:${gateway.tlsPort}${config.server.pathPrefix}`,
    adminUrl: `http://127.0.0.1:${admin.port}`,
    stateDir,
    events,
    logs,
    eventsOf: (id) => events.filter((e) => e.chargePointId === id),
    async connect(identity, chargerOptions) {
      const charger = await TestCharger.connect(chargerUrl, identity, chargerOptions);
      chargers.add(charger);
      return charger;
    },
    stop: () =>
      (stopped ??= (async () => {
        try {
          gateway.stopAccepting();
          await gateway.drain(0, 1, { closeAllByMs: gateway.config.ocpp.callTimeoutMs, socketsMs: 5000 });
          admin.endStreams();
          await gateway.close();
          await admin.close();
          await Promise.all([...chargers].map((c) => c.close(1000, 500)));
        } finally {
          await rm(configDir, { recursive: true, force: true });
          if (ownState) await rm(stateDir, { recursive: true, force: true });
        }
      })()),
  };
}

/** A promise with its resolve, for a backend that answers when the test says so. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}
