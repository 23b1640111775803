#!/usr/bin/env node
/**
 * Manages chargers' credentials (README "Credentials"):
 *   npm run credentials -- add <identity> --password <p> [--profile 1|2|3] [--protocol ocpp1.6|ocpp2.0.1]
 *   npm run credentials -- rotate <identity> --password <p>
 *   npm run credentials -- remove <identity>
 *   npm run credentials -- list [--json]
 * `--password -` reads the password from the first line of standard input (it then stays out of `ps` and shell history).
 * The store is the one the gateway uses: CREDENTIALS_FILE, or Redis when REDIS_URL is set.
 * Exit code: 0 done; 1 refused (unknown identity, duplicate, store unreadable); 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.js';
import { isOcppVersion, OCPP_VERSIONS, type OcppVersion } from '../ocpp/versions.js';
import { CredentialStoreError, checkStoredIdentity, type ManagedCredentialStore } from '../security/credential-record.js';
import type { CredentialRecord, SecurityProfile } from '../security/credential-store.js';
import { loadCredentialStoreSettings, openCredentialStore } from '../security/open-credential-store.js';
import { hashPassword, MAX_PASSWORD_BYTES } from '../security/password-hash.js';

const USAGE = `usage:
  credentials add <identity> --password <p> [--profile 1|2|3] [--protocol ${OCPP_VERSIONS.join('|')}]
      (--profile 3, client certificate only, may omit --password)
  credentials rotate <identity> --password <p>
  credentials remove <identity>
  credentials list [--json]
--password - reads the password from the first line of standard input.
Store: CREDENTIALS_FILE (default data/credentials.json), or Redis when REDIS_URL is set.`;

/** OCPP 2.0.1 asks for Basic-auth passwords of at least 16 characters; shorter ones work but are warned about. */
const RECOMMENDED_PASSWORD_LENGTH = 16;

/** Bad usage (exit 2). */
class UsageError extends Error {}
/** The store refused the change (exit 1). */
class RefusedError extends Error {}

interface Options {
  password?: string;
  profile?: string;
  protocol?: string;
  json?: boolean;
  help?: boolean;
}

function parse(argv: string[]): { command: string | undefined; args: string[]; options: Options } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        password: { type: 'string' },
        profile: { type: 'string' },
        protocol: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs names the option, never its value.
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const [command, ...args] = parsed.positionals;
  return { command, args, options: parsed.values as Options };
}

function allowOnly(command: string, options: Options, allowed: Array<keyof Options>): void {
  for (const name of ['password', 'profile', 'protocol', 'json'] as const) {
    if (options[name] !== undefined && !allowed.includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
}

function oneIdentity(command: string, args: string[]): string {
  // The arguments are not echoed: a password typed in the wrong place must not land in a terminal log.
  if (args.length !== 1) throw new UsageError(`${command} takes exactly one identity (got ${args.length} arguments)`);
  const identity = args[0];
  const check = checkStoredIdentity(identity);
  if (!check.ok) throw new UsageError(`invalid identity: ${check.reason}`);
  return identity;
}

function profileOption(value: string | undefined): SecurityProfile | undefined {
  if (value === undefined) return undefined;
  if (value !== '1' && value !== '2' && value !== '3') throw new UsageError('--profile must be 1, 2 or 3');
  return Number(value) as SecurityProfile;
}

function protocolOption(value: string | undefined): OcppVersion | undefined {
  if (value === undefined) return undefined;
  if (!isOcppVersion(value)) throw new UsageError(`--protocol must be ${OCPP_VERSIONS.join(' or ')}`);
  return value;
}

/** The first line of standard input, without its line end. */
async function readPasswordLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += chunk.toString('utf8');
    const end = text.indexOf('\n');
    if (end !== -1) {
      text = text.slice(0, end);
      break;
    }
    if (text.length > MAX_PASSWORD_BYTES * 4) break;
  }
  process.stdin.destroy();
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

async function passwordOption(value: string | undefined): Promise<string> {
  if (value === undefined) throw new UsageError('--password is required (or --password - to read it from standard input)');
  const password = value === '-' ? await readPasswordLine() : value;
  if (password.length === 0) throw new UsageError(value === '-' ? 'standard input held no password' : '--password must not be empty');
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) throw new UsageError(`the password must be at most ${MAX_PASSWORD_BYTES} bytes`);
  // Control characters cannot be typed by an installer into a charger's configuration, and would break the one-line stdin form.
  if ([...password].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new UsageError('the password must not contain control characters');
  if (password.length < RECOMMENDED_PASSWORD_LENGTH) {
    process.stderr.write(`credentials: warning: the password is shorter than the ${RECOMMENDED_PASSWORD_LENGTH} characters OCPP 2.0.1 asks for\n`);
  }
  return password;
}

function describe(record: CredentialRecord): string {
  const profile = record.minProfile === undefined ? 'default profile' : `profile ${record.minProfile}`;
  const protocol = record.protocol ?? 'any protocol';
  return `${record.identity} (${profile}, ${protocol}, ${record.passwordHash === undefined ? 'no password' : 'password set'})`;
}

/** What `list` shows of a record: never the hash. */
function listed(record: CredentialRecord) {
  return {
    identity: record.identity,
    minProfile: record.minProfile ?? null,
    protocol: record.protocol ?? null,
    passwordSet: record.passwordHash !== undefined,
    updatedAt: record.updatedAt,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function run(argv: string[], storeFor: () => Promise<ManagedCredentialStore>): Promise<void> {
  const { command, args, options } = parse(argv);
  if (options.help === true || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    if (command === undefined && options.help !== true) process.exitCode = 2;
    return;
  }
  // All usage is checked (and the password read) before the store is opened.
  let action: (store: ManagedCredentialStore) => Promise<void>;
  switch (command) {
    case 'add': {
      allowOnly(command, options, ['password', 'profile', 'protocol']);
      const identity = oneIdentity(command, args);
      const minProfile = profileOption(options.profile);
      const protocol = protocolOption(options.protocol);
      if (options.password === undefined && minProfile !== 3) throw new UsageError('add needs --password unless --profile 3 (client certificate only)');
      const password = options.password === undefined ? undefined : await passwordOption(options.password);
      const record: CredentialRecord = { identity, updatedAt: new Date().toISOString() };
      if (password !== undefined) record.passwordHash = await hashPassword(password);
      if (minProfile !== undefined) record.minProfile = minProfile;
      if (protocol !== undefined) record.protocol = protocol;
      action = async (store) => {
        if (!(await store.add(record))) throw new RefusedError(`${identity} already has credentials: use rotate to change its password, or remove it first`);
        process.stdout.write(`added ${describe(record)}\n`);
      };
      break;
    }
    case 'rotate': {
      allowOnly(command, options, ['password']);
      const identity = oneIdentity(command, args);
      const passwordHash = await hashPassword(await passwordOption(options.password));
      action = async (store) => {
        const existing = await store.get(identity);
        if (existing === undefined) throw new RefusedError(`${identity} has no credentials: use add`);
        const record: CredentialRecord = { ...existing, passwordHash, updatedAt: new Date().toISOString() };
        await store.put(record);
        process.stdout.write(`rotated the password of ${describe(record)}\n`);
      };
      break;
    }
    case 'remove': {
      allowOnly(command, options, []);
      const identity = oneIdentity(command, args);
      action = async (store) => {
        if (!(await store.remove(identity))) throw new RefusedError(`${identity} has no credentials`);
        process.stdout.write(`removed ${identity}\n`);
      };
      break;
    }
    case 'list': {
      allowOnly(command, options, ['json']);
      if (args.length > 0) throw new UsageError('list takes no arguments');
      action = async (store) => {
        const records = (await store.list()).map(listed);
        if (options.json === true) {
          process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
          return;
        }
        const rows = records.map((r) => [
          r.identity,
          r.minProfile === null ? 'default' : String(r.minProfile),
          r.protocol ?? 'any',
          r.passwordSet ? 'yes' : 'no',
          r.updatedAt,
        ]);
        process.stdout.write(`${table([['IDENTITY', 'MIN PROFILE', 'PROTOCOL', 'PASSWORD', 'UPDATED'], ...rows])}\n`);
      };
      break;
    }
    default:
      throw new UsageError('unknown command: the first argument must be add, rotate, remove or list');
  }
  const store = await storeFor();
  try {
    await action(store);
  } finally {
    await store.close();
  }
}

try {
  await run(process.argv.slice(2), () => openCredentialStore(loadCredentialStoreSettings()));
} catch (err) {
  const known = err instanceof UsageError || err instanceof RefusedError || err instanceof CredentialStoreError || err instanceof ConfigError;
  // An unexpected error prints its name only: its message could quote anything, and this process handled a password.
  const message = known ? (err as Error).message : `unexpected ${(err as Error)?.name ?? 'error'}`;
  process.stderr.write(`credentials: ${message}${err instanceof UsageError ? ' (--help shows the usage)' : ''}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
