/**
 * The credential stores as the gateway holds them: opened once, they see what the CLI (another process) adds,
 * rotates and removes, without being reopened. File store and Redis store (a private redis-server).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { CredentialStoreError, type ManagedCredentialStore } from '../src/security/credential-record.js';
import type { CredentialStore } from '../src/security/credential-store.js';
import { FileCredentialStore } from '../src/security/file-credential-store.js';
import { openCredentialStore } from '../src/security/open-credential-store.js';
import { hashPassword, verifyPassword } from '../src/security/password-hash.js';
import { RedisCredentialStore } from '../src/security/redis-credential-store.js';
import { runCredentialsCli } from './helpers/credentials-cli.js';
import { waitUntil } from './helpers/gateway-harness.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';

const PASSWORD = 'first-password-0123456789';
const NEW_PASSWORD = 'rotated-password-9876543210';

/** The same story against either store: the CLI in another process changes it, the open store follows. */
async function followsTheCli(store: CredentialStore, cli: (...args: string[]) => Promise<void>): Promise<void> {
  assert.equal(await store.exists(), false, 'no store yet');
  assert.equal(await store.get('CP-1'), undefined);

  await cli('add', 'CP-1', '--password', PASSWORD, '--profile', '2', '--protocol', 'ocpp1.6');
  await waitUntil(async () => (await store.get('CP-1')) !== undefined, 5000, 'the open store to see the added charger');
  const added = await store.get('CP-1');
  assert.equal(added?.minProfile, 2);
  assert.equal(added?.protocol, 'ocpp1.6');
  assert.equal(await verifyPassword(PASSWORD, added?.passwordHash as string), true);
  assert.equal(await store.exists(), true);

  await cli('rotate', 'CP-1', '--password', NEW_PASSWORD);
  await waitUntil(async () => (await store.get('CP-1'))?.passwordHash !== added?.passwordHash, 5000, 'the open store to see the rotation');
  const rotated = await store.get('CP-1');
  assert.equal(await verifyPassword(NEW_PASSWORD, rotated?.passwordHash as string), true);
  assert.equal(await verifyPassword(PASSWORD, rotated?.passwordHash as string), false);

  await cli('remove', 'CP-1');
  await waitUntil(async () => (await store.get('CP-1')) === undefined, 5000, 'the open store to see the removal');
  assert.deepEqual(await store.list(), []);
  assert.equal(await store.exists(), true, 'a store whose last charger was removed still exists (unknown chargers stay refused)');
}

describe('file credential store', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'credential-store-'));
    file = path.join(dir, 'credentials.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an open store sees the CLI add, rotate and remove without being reopened', async () => {
    const store = await openCredentialStore({ security: { credentialsFile: 'credentials.json' }, cluster: {} }, { cwd: dir });
    assert.ok(store instanceof FileCredentialStore);
    await followsTheCli(store, async (...args) => {
      const result = await runCredentialsCli(args, { cwd: dir, env: { CREDENTIALS_FILE: file } });
      assert.equal(result.code, 0, result.stderr);
    });
  });

  it('a corrupt file fails lookups with a CredentialStoreError naming the file; once fixed, lookups work again', async () => {
    const store = new FileCredentialStore({ file, recheckMs: 0 });
    const record = { identity: 'CP-1', passwordHash: await hashPassword(PASSWORD), updatedAt: new Date().toISOString() };
    await store.put(record);
    const good = await readFile(file, 'utf8');

    const broken: Array<[string, RegExp]> = [
      [good.slice(0, good.length / 2), /: not valid JSON$/],
      ['[]', /must hold an object with "version" and "chargers"/],
      [JSON.stringify({ version: 2, chargers: {} }), /unknown "version"/],
      [JSON.stringify({ version: 1, chargers: { 'CP-1': { passwordHash: 'plain', updatedAt: record.updatedAt } } }), /password hash of CP-1 is not a scrypt hash/],
      [JSON.stringify({ version: 1, chargers: { 'CP-1': { minProfile: 7, updatedAt: record.updatedAt } } }), /minProfile of CP-1 must be/],
      [JSON.stringify({ version: 1, chargers: { 'CP:1': { updatedAt: record.updatedAt } } }), /holds an identity the gateway would refuse/],
    ];
    for (const [text, problem] of broken) {
      await writeFile(file, text);
      const err = await store.get('CP-1').then(
        () => assert.fail('a corrupt file must not read as a store'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CredentialStoreError);
      assert.ok(err.message.startsWith(`credentials file ${file}: `), err.message);
      assert.match(err.message, problem);
      assert.ok(!err.message.includes(record.passwordHash.split('$')[5]), 'no hash in the message');
      await assert.rejects(store.put({ identity: 'CP-2', updatedAt: record.updatedAt }), CredentialStoreError, 'nor is it overwritten');
    }
    await writeFile(file, good);
    assert.deepEqual(await store.get('CP-1'), record);
  });

  it('refuses to write a record it could not read back', async () => {
    const store = new FileCredentialStore({ file });
    await assert.rejects(store.put({ identity: 'CP:1', updatedAt: new Date().toISOString() }), CredentialStoreError);
    await assert.rejects(store.put({ identity: 'CP-1', passwordHash: 'plain-text', updatedAt: new Date().toISOString() }), CredentialStoreError);
    assert.equal(await store.exists(), false, 'nothing was written');
  });
});

const redisSkip = await ownRedisSkipReason();

describe('Redis credential store', { skip: redisSkip }, () => {
  let redis: OwnRedis;
  let dir: string;
  const opened: ManagedCredentialStore[] = [];
  before(async () => {
    redis = await OwnRedis.start();
    dir = await mkdtemp(path.join(tmpdir(), 'credential-store-redis-'));
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an open store sees the CLI add, rotate and remove at once, on every instance', async () => {
    const redisUrl = `redis://127.0.0.1:${redis.port}`;
    const config = { security: { credentialsFile: 'never-used.json' }, cluster: { redisUrl } };
    const [one, two] = await Promise.all([openCredentialStore(config, { cwd: dir }), openCredentialStore(config, { cwd: dir })]);
    opened.push(one, two);
    assert.ok(one instanceof RedisCredentialStore);
    await followsTheCli(one, async (...args) => {
      const result = await runCredentialsCli(args, { cwd: dir, env: { REDIS_URL: redisUrl } });
      assert.equal(result.code, 0, result.stderr);
      // Redis has no cache in between: the second instance sees the change the moment the CLI is done.
      assert.deepEqual(await two.get('CP-1'), await one.get('CP-1'));
    });
  });

  it('a record that is not valid is a CredentialStoreError naming key and identity', async () => {
    const store = await RedisCredentialStore.connect({ connection: `redis://127.0.0.1:${redis.port}`, key: 'test:broken' });
    opened.push(store);
    const client = redis.client();
    try {
      await client.hset('test:broken', 'CP-9', '{"passwordHash":');
      await assert.rejects(store.get('CP-9'), { name: 'CredentialStoreError', message: 'credentials in Redis (test:broken): the record of CP-9 is not valid JSON' });
      await assert.rejects(store.list(), CredentialStoreError);
    } finally {
      client.disconnect();
    }
  });
});
