import { Redis, type RedisOptions } from 'ioredis';
import { assertWritable, CredentialStoreError, type ManagedCredentialStore, parseStoredRecord, storedForm } from './credential-record.js';
import type { CredentialRecord } from './credential-store.js';

export const DEFAULT_CREDENTIALS_KEY = 'ocpp:credentials';
/**
 * A field no identity can be (identities never contain ":"), written with the first record and never removed:
 * the hash keeps existing after its last charger is removed, so `exists()` stays true and removing the last
 * charger does not turn ALLOW_UNKNOWN_CHARGERS back on by default.
 */
const CREATED_FIELD = ':created';
const COMMAND_TIMEOUT_MS = 2_000;

export interface RedisCredentialStoreOptions {
  /** A `redis://` URL, or ioredis options. */
  connection: string | RedisOptions;
  /** The Redis hash holding every charger's record. Default `ocpp:credentials`. */
  key?: string;
}

/**
 * Credentials in Redis for cluster mode: ONE Redis hash (`ocpp:credentials`), field = identity, value = the record
 * as JSON. One hash rather than a key per charger because listing is then one HSCAN of one key instead of a SCAN
 * of the whole keyspace, `exists()` is one EXISTS, an operator's ACL, backup or rename covers one key, and the
 * whole store (some 200 bytes a charger, a few MB for a large fleet) is small enough for one key. Every lookup
 * asks Redis, so a rotation by the CLI counts from the next connection on every instance.
 */
export class RedisCredentialStore implements ManagedCredentialStore {
  readonly key: string;
  private readonly client: Redis;

  constructor(options: RedisCredentialStoreOptions) {
    this.key = options.key ?? DEFAULT_CREDENTIALS_KEY;
    const base: RedisOptions = typeof options.connection === 'string' ? {} : options.connection;
    const settings: RedisOptions = {
      ...base,
      // A charger waiting for admission must get an answer soon: fail a lookup instead of queueing it for minutes.
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    };
    this.client = typeof options.connection === 'string' ? new Redis(options.connection, settings) : new Redis(settings);
    // Without a listener ioredis prints every connection error; the lookups report them as CredentialStoreError.
    this.client.on('error', () => {});
  }

  /** A store whose Redis answered PING; CredentialStoreError (and nothing left open) when it does not. */
  static async connect(options: RedisCredentialStoreOptions): Promise<RedisCredentialStore> {
    const store = new RedisCredentialStore(options);
    try {
      await store.run('connect', () => store.client.ping());
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async exists(): Promise<boolean> {
    return (await this.run('exists', () => this.client.exists(this.key))) === 1;
  }

  async get(identity: string): Promise<CredentialRecord | undefined> {
    if (identity.includes(':')) return undefined;
    const value = await this.run('get', () => this.client.hget(this.key, identity));
    return value === null ? undefined : this.parse(identity, value);
  }

  async list(): Promise<CredentialRecord[]> {
    const records: CredentialRecord[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.run('list', () => this.client.hscan(this.key, cursor, 'COUNT', 1000));
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) if (!flat[i].startsWith(':')) records.push(this.parse(flat[i], flat[i + 1]));
    } while (cursor !== '0');
    return records.sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  async put(record: CredentialRecord): Promise<void> {
    assertWritable(record);
    await this.run('put', () =>
      this.client
        .multi()
        .hset(this.key, record.identity, JSON.stringify(storedForm(record)))
        .hsetnx(this.key, CREATED_FIELD, new Date().toISOString())
        .exec(),
    );
  }

  async add(record: CredentialRecord): Promise<boolean> {
    assertWritable(record);
    const results = await this.run('add', () =>
      this.client
        .multi()
        .hsetnx(this.key, record.identity, JSON.stringify(storedForm(record)))
        .hsetnx(this.key, CREATED_FIELD, new Date().toISOString())
        .exec(),
    );
    const [addError, added] = results?.[0] ?? [new Error('transaction discarded'), 0];
    if (addError) throw new CredentialStoreError(`credentials in Redis (${this.key}): add failed (${addError.message.split('\n')[0]})`);
    return added === 1;
  }

  async remove(identity: string): Promise<boolean> {
    if (identity.includes(':')) return false;
    return (await this.run('remove', () => this.client.hdel(this.key, identity))) === 1;
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private parse(identity: string, value: string): CredentialRecord {
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      throw new CredentialStoreError(`credentials in Redis (${this.key}): the record of ${identity} is not valid JSON`);
    }
    const record = parseStoredRecord(identity, json);
    if (typeof record === 'string') throw new CredentialStoreError(`credentials in Redis (${this.key}): ${record}`);
    return record;
  }

  /** Runs one Redis call; a failure becomes a CredentialStoreError naming the key and the step. */
  private async run<T>(step: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof CredentialStoreError) throw err;
      throw new CredentialStoreError(`credentials in Redis (${this.key}): ${step} failed (${(err as Error).message.split('\n')[0]})`);
    }
  }
}
