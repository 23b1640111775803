import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { assertWritable, CredentialStoreError, type ManagedCredentialStore, parseStoredRecord, storedForm } from './credential-record.js';
import type { CredentialRecord } from './credential-store.js';

export const DEFAULT_CREDENTIALS_FILE = 'data/credentials.json';
/** How often a lookup may look at the file again; a rotation takes effect within this. */
export const DEFAULT_RECHECK_MS = 250;
/** A lock older than this is left over from a crashed writer and is taken over. */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 5_000;

export interface FileCredentialStoreOptions {
  /** Relative paths are resolved against the working directory. */
  file: string;
  /** Lookups within this of the last look use what was read then (0: stat on every lookup). */
  recheckMs?: number;
}

/** The file's content: `{ "version": 1, "chargers": { "<identity>": { passwordHash, minProfile, protocol, updatedAt } } }`. */
interface Snapshot {
  /** Identity of the file version read: inode, size and mtime in nanoseconds (a rename always changes one). */
  signature: string;
  records: Map<string, CredentialRecord>;
}

const MISSING: Snapshot = { signature: 'missing', records: new Map() };

function signatureOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * Credentials in a JSON file (CREDENTIALS_FILE). Reads see another process's writes (the CLI's) without a restart:
 * a lookup stats the file at most every `recheckMs` and reads it again when its inode, size or time changed.
 * Writes go to a temporary file (mode 0600) that is renamed over the old one, so a reader sees the old or the new
 * file, never half of one; a lock file keeps two writers from losing each other's change.
 */
export class FileCredentialStore implements ManagedCredentialStore {
  readonly file: string;
  private readonly recheckMs: number;
  private snapshot: Snapshot | undefined;
  private failure: { signature: string; error: CredentialStoreError } | undefined;
  private checkedAt = 0;
  private loading: Promise<Snapshot> | undefined;

  constructor(options: FileCredentialStoreOptions) {
    this.file = path.resolve(options.file);
    this.recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  }

  async exists(): Promise<boolean> {
    return (await this.current()) !== MISSING;
  }

  async get(identity: string): Promise<CredentialRecord | undefined> {
    const record = (await this.current()).records.get(identity);
    return record === undefined ? undefined : { ...record };
  }

  async list(): Promise<CredentialRecord[]> {
    const records = [...(await this.current()).records.values()].map((r) => ({ ...r }));
    return records.sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  async put(record: CredentialRecord): Promise<void> {
    assertWritable(record);
    await this.change((records) => {
      records.set(record.identity, { ...record });
      return true;
    });
  }

  async add(record: CredentialRecord): Promise<boolean> {
    assertWritable(record);
    return this.change((records) => {
      if (records.has(record.identity)) return false;
      records.set(record.identity, { ...record });
      return true;
    });
  }

  async remove(identity: string): Promise<boolean> {
    return this.change((records) => records.delete(identity));
  }

  async close(): Promise<void> {}

  /** The file as last read, read again when the recheck interval has passed and the file changed. */
  private async current(force = false): Promise<Snapshot> {
    if (force) {
      // A writer holding the lock needs a stat taken after it got the lock, not one already under way.
      await this.loading?.catch(() => {});
      return this.load();
    }
    if (this.snapshot !== undefined && this.failure === undefined && Date.now() - this.checkedAt < this.recheckMs) return this.snapshot;
    // One stat and read at a time, however many lookups arrive together.
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    let stats: BigIntStats;
    try {
      stats = await stat(this.file, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.fail('none', `cannot read it (${(err as NodeJS.ErrnoException).code})`);
      this.failure = undefined;
      this.checkedAt = Date.now();
      this.snapshot = MISSING;
      return MISSING;
    }
    const signature = signatureOf(stats);
    if (this.failure?.signature === signature) throw this.failure.error;
    if (this.snapshot?.signature === signature) {
      this.checkedAt = Date.now();
      return this.snapshot;
    }
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.load();
      throw this.fail('none', `cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
    const parsed = this.parse(text);
    if (typeof parsed === 'string') throw this.fail(signature, parsed);
    this.failure = undefined;
    this.checkedAt = Date.now();
    this.snapshot = { signature, records: parsed };
    return this.snapshot;
  }

  /** The records in the file's text, or what is wrong with it (never quoting the text: it holds hashes). */
  private parse(text: string): Map<string, CredentialRecord> | string {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return 'not valid JSON';
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'must hold an object with "version" and "chargers"';
    const { version, chargers } = json as Record<string, unknown>;
    if (version !== 1) return 'unknown "version" (this gateway reads version 1)';
    if (typeof chargers !== 'object' || chargers === null || Array.isArray(chargers)) return '"chargers" must be an object keyed by identity';
    const records = new Map<string, CredentialRecord>();
    for (const [identity, value] of Object.entries(chargers)) {
      const record = parseStoredRecord(identity, value);
      if (typeof record === 'string') return `holds ${record}`;
      records.set(identity, record);
    }
    return records;
  }

  private fail(signature: string, problem: string): CredentialStoreError {
    const error = new CredentialStoreError(`credentials file ${this.file}: ${problem}`);
    this.failure = signature === 'none' ? undefined : { signature, error };
    return error;
  }

  /** Read, change and write the file under the lock; `apply` returns false when there is nothing to write. */
  private async change(apply: (records: Map<string, CredentialRecord>) => boolean): Promise<boolean> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const release = await this.lock();
    try {
      const records = new Map((await this.current(true)).records);
      if (!apply(records)) return false;
      await this.write(records);
      this.snapshot = undefined;
      await this.current(true);
      return true;
    } finally {
      await release();
    }
  }

  private async write(records: Map<string, CredentialRecord>): Promise<void> {
    const chargers: Record<string, unknown> = {};
    for (const identity of [...records.keys()].sort()) chargers[identity] = storedForm(records.get(identity) as CredentialRecord);
    const text = `${JSON.stringify({ version: 1, chargers }, null, 2)}\n`;
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.file);
    } catch (err) {
      await rm(temp, { force: true });
      throw new CredentialStoreError(`credentials file ${this.file}: cannot write it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // The rename is durable only once the folder is synced; best effort (not every file system allows it).
    try {
      const dir = await open(path.dirname(this.file), 'r');
      await dir.sync().finally(() => dir.close());
    } catch {}
  }

  /** An exclusive lock file beside the store, so two CLI runs at once do not lose each other's change. */
  private async lock(): Promise<() => Promise<void>> {
    const lockFile = `${this.file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        const handle = await open(lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => unlink(lockFile).catch(() => {});
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CredentialStoreError(`credentials file ${this.file}: cannot create its lock (${(err as NodeJS.ErrnoException).code})`);
        }
      }
      const held = await stat(lockFile).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
        await unlink(lockFile).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new CredentialStoreError(`credentials file ${this.file}: locked by another writer (${lockFile}); remove it if no credentials command is running`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
