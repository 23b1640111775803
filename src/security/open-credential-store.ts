import path from 'node:path';
import { z } from 'zod';
import { ConfigError, environmentVariableOf, type LoadOptions, loadConfigLayers } from '../config/load.js';
import { clusterSchema, securitySchema } from '../config/schema.js';
import type { ManagedCredentialStore } from './credential-record.js';
import { FileCredentialStore } from './file-credential-store.js';
import { RedisCredentialStore } from './redis-credential-store.js';

/** The part of the configuration that says where credentials live. A full GatewayConfig is one. */
export interface CredentialStoreSettings {
  security: { credentialsFile: string };
  cluster: { redisUrl?: string };
}

export interface OpenCredentialStoreOptions {
  /** What a relative credentials file is relative to; default the working directory. */
  cwd?: string;
  /** See FileCredentialStoreOptions.recheckMs. */
  recheckMs?: number;
}

/**
 * The credential store the configuration names: Redis (the hash `ocpp:credentials`) when REDIS_URL is set, as in
 * cluster mode, where every instance must see the same credentials; else the file (CREDENTIALS_FILE).
 */
export async function openCredentialStore(config: CredentialStoreSettings, options: OpenCredentialStoreOptions = {}): Promise<ManagedCredentialStore> {
  if (config.cluster.redisUrl !== undefined) return RedisCredentialStore.connect({ connection: config.cluster.redisUrl });
  return new FileCredentialStore({ file: path.resolve(options.cwd ?? process.cwd(), config.security.credentialsFile), recheckMs: options.recheckMs });
}

const credentialSettingsSchema = z.object({ security: securitySchema, cluster: clusterSchema });

/**
 * Where credentials live, read through the gateway's own configuration layers (YAML files, environment) but
 * validating only that part: the credentials CLI works with REDIS_URL alone, without the rest of cluster mode.
 */
export function loadCredentialStoreSettings(options: LoadOptions = {}): CredentialStoreSettings {
  const result = credentialSettingsSchema.safeParse(loadConfigLayers(options));
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path.join('.') || '(root)';
    const envName = environmentVariableOf(key);
    throw new ConfigError(`invalid configuration at ${key}${envName ? ` (${envName})` : ''}: ${issue.message}`);
  }
  return result.data;
}
