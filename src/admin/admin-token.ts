import { createHash, timingSafeEqual } from 'node:crypto';
import { type FSWatcher, unwatchFile, watch, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';

/** What the bearer check asks: whether a presented token is one the admin API accepts now. */
export interface TokenCheck {
  matches(given: string): boolean;
}

export interface AdminTokenOptions {
  /** The token from ADMIN_TOKEN; ignored when `file` is given. */
  token?: string;
  /** ADMIN_TOKEN_FILE: a file holding the token, re-read when it changes and on `reload()`. */
  file?: string;
  /** How long the previous token is still accepted after a rotation. */
  overlapMs: number;
  log: Logger;
  /** Debounce of file-change notifications (editors and secret mounts write in several steps). */
  debounceMs?: number;
  /** Interval of the stat-based fallback where file notifications are not delivered (network filesystems). */
  pollMs?: number;
  now?: () => number;
}

const MIN_LENGTH = 16;

/** A digest makes every comparison the same length, so it takes the same time whatever was sent. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The admin API's bearer token, rotatable without a restart. With a token file the file is watched (its folder,
 * so an atomic replace or a Kubernetes secret's symlink swap is seen; plus a stat poll as a fallback) and re-read
 * on SIGHUP; a new token replaces the old at once, and the old one is still accepted for `overlapMs` so the
 * clients holding it can pick up the new one. A file that is missing, empty or too short keeps the token in
 * force (and is logged, never with its content).
 */
export class AdminToken implements TokenCheck {
  private current: Buffer;
  private previous: Buffer | undefined;
  private previousUntil = 0;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  private constructor(
    initial: string,
    private readonly options: AdminTokenOptions,
  ) {
    this.current = digest(initial);
    this.now = options.now ?? Date.now;
  }

  /** undefined when neither a token nor a file is configured (the API is then open, on loopback only). */
  static async open(options: AdminTokenOptions): Promise<AdminToken | undefined> {
    if (options.file === undefined) return options.token === undefined ? undefined : new AdminToken(options.token, options);
    const read = await readTokenFile(options.file);
    if (!read.ok) throw new ConfigError(`invalid configuration at admin.tokenFile (ADMIN_TOKEN_FILE): ${read.problem}`);
    const token = new AdminToken(read.token, options);
    token.watch(options.file);
    return token;
  }

  matches(given: string): boolean {
    const presented = digest(given);
    const isCurrent = timingSafeEqual(presented, this.current);
    // Compared whether or not an overlap is running, so the answer takes the same time either way.
    const isPrevious = timingSafeEqual(presented, this.previous ?? this.current) && this.previous !== undefined && this.now() < this.previousUntil;
    return isCurrent || isPrevious;
  }

  /** Re-reads the token file (SIGHUP); resolves to whether the token changed. Without a file there is nothing to do. */
  async reload(): Promise<boolean> {
    const file = this.options.file;
    if (file === undefined) return false;
    const read = await readTokenFile(file);
    if (!read.ok) {
      this.options.log.error({ file, problem: read.problem }, 'admin token file not usable; the token in force stays');
      return false;
    }
    const next = digest(read.token);
    if (timingSafeEqual(next, this.current)) return false;
    this.previous = this.current;
    this.previousUntil = this.now() + this.options.overlapMs;
    this.current = next;
    this.options.log.info({ file, previousAcceptedForMs: this.options.overlapMs }, 'admin token rotated');
    return true;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.debounce);
    if (this.options.file !== undefined) unwatchFile(this.options.file);
  }

  private watch(file: string): void {
    const name = basename(file);
    const changed = () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload(), this.options.debounceMs ?? 100);
      this.debounce.unref();
    };
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, changedName) => {
        // A secret mount swaps a `..data` symlink beside the file: any change in the folder may be ours.
        if (changedName === null || changedName === name || changedName.startsWith('..')) changed();
      });
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // Not watchable here: the poll below still sees changes.
    }
    watchFile(file, { persistent: false, interval: this.options.pollMs ?? 2000 }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) changed();
    });
  }
}

type TokenRead = { ok: true; token: string } | { ok: false; problem: string };

/** The file's content without surrounding whitespace (a trailing newline is usual). Problems never quote the content. */
async function readTokenFile(file: string): Promise<TokenRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, problem: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const token = text.trim();
  if (token.length < MIN_LENGTH) return { ok: false, problem: `${file} must hold a token of at least ${MIN_LENGTH} characters` };
  return { ok: true, token };
}
