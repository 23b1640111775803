/**
 * `npm run credentials`: the built CLI run as a child process against a temporary CREDENTIALS_FILE, and against a
 * private redis-server through REDIS_URL. What is written is read back independently (the file's JSON, Redis's
 * hash) and the stored hashes are checked with verifyPassword: the password itself must be nowhere.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { verifyPassword } from '../src/security/password-hash.js';
import { type CliResult, runCredentialsCli } from './helpers/credentials-cli.js';
import { OwnRedis, ownRedisSkipReason } from './helpers/redis-server.js';

const PASSWORD = 'first-password-0123456789';
const NEW_PASSWORD = 'rotated-password-9876543210';

function assertOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code (stderr: ${result.stderr})`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0], pattern);
}

/** Every secret the tests use, none of which may appear in any output. */
function assertNoSecret(text: string): void {
  for (const secret of [PASSWORD, NEW_PASSWORD, 'stdin-password-abcdefgh', 'wrong-place-secret-xyz']) assert.ok(!text.includes(secret), 'a password leaked');
}

interface StoredFile {
  version: number;
  chargers: Record<string, { passwordHash?: string; minProfile?: number; protocol?: string; updatedAt: string }>;
}

describe('credentials CLI against the file store', () => {
  let dir: string;
  let file: string;
  const cli = async (...args: string[]) => {
    const result = await runCredentialsCli(args, { cwd: dir, env: { CREDENTIALS_FILE: file } });
    assertNoSecret(result.stdout + result.stderr);
    return result;
  };
  const stored = async (): Promise<StoredFile> => JSON.parse(await readFile(file, 'utf8'));

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'credentials-cli-'));
    file = path.join(dir, 'store', 'credentials.json');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('add writes a salted hash (mode 0600), never the password, and list shows the record without a secret', async () => {
    const added = await cli('add', 'CP-1', '--password', PASSWORD, '--profile', '2', '--protocol', 'ocpp1.6');
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'added CP-1 (profile 2, ocpp1.6, password set)\n');

    const text = await readFile(file, 'utf8');
    assert.ok(!text.includes(PASSWORD), 'the file never holds the password');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const record = (await stored()).chargers['CP-1'];
    assert.deepEqual(Object.keys(record).sort(), ['minProfile', 'passwordHash', 'protocol', 'updatedAt']);
    assert.equal(record.minProfile, 2);
    assert.equal(record.protocol, 'ocpp1.6');
    assert.equal(await verifyPassword(PASSWORD, record.passwordHash as string), true);
    assert.equal(await verifyPassword(NEW_PASSWORD, record.passwordHash as string), false);

    const listed = await cli('list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(record.passwordHash as string) && !listed.stdout.includes('scrypt'), 'list never prints a hash');
    const lines = listed.stdout.trimEnd().split('\n');
    assert.deepEqual(lines[0].split(/\s+/), ['IDENTITY', 'MIN', 'PROFILE', 'PROTOCOL', 'PASSWORD', 'UPDATED']);
    assert.deepEqual(lines[1].split(/\s+/), ['CP-1', '2', 'ocpp1.6', 'yes', record.updatedAt]);
    assert.equal(lines.length, 2);
  });

  it('with no CREDENTIALS_FILE the store is data/credentials.json under the working directory', async () => {
    const result = await runCredentialsCli(['add', 'CP-D', '--password', PASSWORD], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const record = JSON.parse(await readFile(path.join(dir, 'data', 'credentials.json'), 'utf8')).chargers['CP-D'];
    assert.equal(await verifyPassword(PASSWORD, record.passwordHash), true);
  });

  it('--password - reads the first line of standard input', async () => {
    const result = await runCredentialsCli(['add', 'CP-S', '--password', '-'], {
      cwd: dir,
      env: { CREDENTIALS_FILE: file },
      stdin: 'stdin-password-abcdefgh\r\nsecond line is ignored\n',
    });
    assert.equal(result.code, 0, result.stderr);
    assertNoSecret(result.stdout + result.stderr);
    const hash = (await stored()).chargers['CP-S'].passwordHash as string;
    assert.equal(await verifyPassword('stdin-password-abcdefgh', hash), true);

    const empty = await runCredentialsCli(['rotate', 'CP-S', '--password', '-'], { cwd: dir, env: { CREDENTIALS_FILE: file }, stdin: '' });
    assertOneLineError(empty, 2, /standard input held no password/);
    assert.equal((await stored()).chargers['CP-S'].passwordHash, hash, 'nothing changed');
  });

  it('rotate replaces the hash and keeps the pins; the old password no longer verifies', async () => {
    assert.equal((await cli('add', 'CP-R', '--password', PASSWORD, '--profile', '1', '--protocol', 'ocpp2.0.1')).code, 0);
    const before = (await stored()).chargers['CP-R'];
    const rotated = await cli('rotate', 'CP-R', '--password', NEW_PASSWORD);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.stdout, 'rotated the password of CP-R (profile 1, ocpp2.0.1, password set)\n');
    const after = (await stored()).chargers['CP-R'];
    assert.equal(after.minProfile, 1);
    assert.equal(after.protocol, 'ocpp2.0.1');
    assert.ok(Date.parse(after.updatedAt) >= Date.parse(before.updatedAt));
    assert.equal(await verifyPassword(NEW_PASSWORD, after.passwordHash as string), true);
    assert.equal(await verifyPassword(PASSWORD, after.passwordHash as string), false);
  });

  it('profile 3 may omit the password; list and --json say no password is set', async () => {
    assert.equal((await cli('add', 'CP-3', '--profile', '3')).code, 0);
    assert.equal((await cli('add', 'CP-A', '--password', PASSWORD)).code, 0);
    assert.deepEqual((await stored()).chargers['CP-3'], { minProfile: 3, updatedAt: (await stored()).chargers['CP-3'].updatedAt });
    const json = await cli('list', '--json');
    assert.equal(json.code, 0, json.stderr);
    const records = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      records.map(({ updatedAt, ...rest }) => rest),
      [
        { identity: 'CP-3', minProfile: 3, protocol: null, passwordSet: false },
        { identity: 'CP-A', minProfile: null, protocol: null, passwordSet: true },
      ],
    );
  });

  it('remove deletes the record; removing or rotating an unknown identity is refused with exit 1', async () => {
    assert.equal((await cli('add', 'CP-X', '--password', PASSWORD)).code, 0);
    const removed = await cli('remove', 'CP-X');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed CP-X\n');
    assert.deepEqual((await stored()).chargers, {});
    assertOneLineError(await cli('remove', 'CP-X'), 1, /^credentials: CP-X has no credentials$/);
    assertOneLineError(await cli('rotate', 'CP-X', '--password', NEW_PASSWORD), 1, /^credentials: CP-X has no credentials: use add$/);
    assert.deepEqual((await stored()).chargers, {});
  });

  it('add of an identity that exists is refused with exit 1 and leaves its record alone', async () => {
    assert.equal((await cli('add', 'CP-1', '--password', PASSWORD)).code, 0);
    const before = await readFile(file, 'utf8');
    assertOneLineError(await cli('add', 'CP-1', '--password', NEW_PASSWORD), 1, /^credentials: CP-1 already has credentials: use rotate/);
    assert.equal(await readFile(file, 'utf8'), before);
  });

  it('bad usage: one clear line, exit 2, nothing written, and no argument echoed', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['add', 'CP:1', '--password', PASSWORD], /invalid identity: .*must not contain ":"/],
      [['add', 'CP 1', '--password', PASSWORD], /invalid identity: .*printable ASCII/],
      [['add', 'X'.repeat(49), '--password', PASSWORD], /invalid identity: .*longer than 48/],
      [['add', 'CP-1'], /add needs --password unless --profile 3/],
      [['add', 'CP-1', '--password', PASSWORD, '--profile', '4'], /--profile must be 1, 2 or 3/],
      [['add', 'CP-1', '--password', PASSWORD, '--profile', '0'], /--profile must be 1, 2 or 3/],
      [['add', 'CP-1', '--password', PASSWORD, '--protocol', 'ocpp2.0'], /--protocol must be ocpp1.6 or ocpp2.0.1/],
      [['add', 'CP-1', '--password', ''], /--password must not be empty/],
      [['add', 'CP-1', 'wrong-place-secret-xyz'], /add takes exactly one identity \(got 2 arguments\)/],
      [['add', 'CP-1', '--pasword', 'wrong-place-secret-xyz'], /Unknown option '--pasword'/],
      [['rotate', 'CP-1'], /--password is required/],
      [['rotate', 'CP-1', '--password', PASSWORD, '--profile', '2'], /rotate does not take --profile/],
      [['remove'], /remove takes exactly one identity \(got 0 arguments\)/],
      [['list', 'extra'], /list takes no arguments/],
      [['wrong-place-secret-xyz'], /unknown command: the first argument must be add, rotate, remove or list/],
      [[], /usage/],
    ];
    for (const [args, pattern] of cases) {
      const result = await cli(...args);
      if (args.length === 0) {
        assert.equal(result.code, 2);
        assert.match(result.stdout, /usage:/);
        continue;
      }
      assertOneLineError(result, 2, pattern);
    }
    await assert.rejects(stat(file), { code: 'ENOENT' }, 'nothing was written');
  });

  it('a corrupt store file: exit 1 with one line naming the file, quoting none of it', async () => {
    assert.equal((await cli('add', 'CP-1', '--password', PASSWORD)).code, 0);
    const hash = (await stored()).chargers['CP-1'].passwordHash as string;
    await writeFile(file, `{"version":1,"chargers":{"CP-1":{"passwordHash":"${hash}"`);
    for (const args of [['list'], ['add', 'CP-2', '--password', NEW_PASSWORD]]) {
      const result = await cli(...args);
      assertOneLineError(result, 1, new RegExp(`^credentials: credentials file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON$`));
      assert.ok(!result.stderr.includes(hash));
    }
    assert.ok((await readFile(file, 'utf8')).endsWith('"'), 'a corrupt file is not overwritten');
  });

  it('concurrent adds from several processes all land (the writers take turns)', async () => {
    const identities = ['CP-P1', 'CP-P2', 'CP-P3', 'CP-P4', 'CP-P5'];
    const results = await Promise.all(identities.map((id) => cli('add', id, '--password', PASSWORD)));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(Object.keys((await stored()).chargers).sort(), identities);
  });
});

const redisSkip = await ownRedisSkipReason();

describe('credentials CLI against Redis (REDIS_URL)', { skip: redisSkip }, () => {
  let redis: OwnRedis;
  let client: Redis;
  let dir: string;
  const cli = async (...args: string[]) => {
    const result = await runCredentialsCli(args, { cwd: dir, env: { REDIS_URL: `redis://127.0.0.1:${redis.port}`, CREDENTIALS_FILE: path.join(dir, 'unused.json') } });
    assertNoSecret(result.stdout + result.stderr);
    return result;
  };

  before(async () => {
    redis = await OwnRedis.start();
    client = redis.client();
    dir = await mkdtemp(path.join(tmpdir(), 'credentials-cli-redis-'));
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('add, rotate, list and remove work on the ocpp:credentials hash; no password reaches Redis; the file is not used', async () => {
    assert.equal((await cli('add', 'CP-1', '--password', PASSWORD, '--profile', '2')).code, 0);
    assert.equal((await cli('add', 'CP-3', '--profile', '3', '--protocol', 'ocpp2.0.1')).code, 0);
    assertOneLineError(await cli('add', 'CP-1', '--password', NEW_PASSWORD), 1, /CP-1 already has credentials/);

    const hash = await client.hgetall('ocpp:credentials');
    assert.deepEqual(Object.keys(hash).sort(), [':created', 'CP-1', 'CP-3']);
    assert.ok(!JSON.stringify(hash).includes(PASSWORD));
    const first = JSON.parse(hash['CP-1']);
    assert.equal(first.minProfile, 2);
    assert.equal(await verifyPassword(PASSWORD, first.passwordHash), true);
    assert.deepEqual(JSON.parse(hash['CP-3']), { minProfile: 3, protocol: 'ocpp2.0.1', updatedAt: JSON.parse(hash['CP-3']).updatedAt });

    assert.equal((await cli('rotate', 'CP-1', '--password', NEW_PASSWORD)).code, 0);
    const rotated = JSON.parse((await client.hget('ocpp:credentials', 'CP-1')) as string);
    assert.equal(rotated.minProfile, 2, 'the pin is kept');
    assert.equal(await verifyPassword(NEW_PASSWORD, rotated.passwordHash), true);
    assert.equal(await verifyPassword(PASSWORD, rotated.passwordHash), false);

    const listed = JSON.parse((await cli('list', '--json')).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      listed.map((r) => [r.identity, r.minProfile, r.protocol, r.passwordSet]),
      [
        ['CP-1', 2, null, true],
        ['CP-3', 3, 'ocpp2.0.1', false],
      ],
    );

    assert.equal((await cli('remove', 'CP-1')).code, 0);
    assert.equal((await cli('remove', 'CP-3')).code, 0);
    assertOneLineError(await cli('remove', 'CP-3'), 1, /CP-3 has no credentials/);
    assertOneLineError(await cli('rotate', 'CP-3', '--password', NEW_PASSWORD), 1, /CP-3 has no credentials: use add/);
    assert.deepEqual(Object.keys(await client.hgetall('ocpp:credentials')), [':created'], 'the store still exists with no charger in it');
    await assert.rejects(stat(path.join(dir, 'unused.json')), { code: 'ENOENT' });
  });

  it('an unreachable Redis: exit 1 with one line', async () => {
    const result = await runCredentialsCli(['list'], { cwd: dir, env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    assertOneLineError(result, 1, /^credentials: credentials in Redis \(ocpp:credentials\): cannot connect \(ECONNREFUSED\)$/);
  });
});
