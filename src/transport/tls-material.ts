import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/** The files of the chargers' TLS listener: its certificate chain and key, and the CA of client certificates. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** Client certificates (profile 3) must chain to it; without it no client certificate is asked for. */
  caFile?: string;
}

/**
 * TLS 1.3 suites, then TLS 1.2 ones with forward secrecy and an AEAD only: ECDHE with AES-GCM or ChaCha20-Poly1305,
 * server preference first. No CBC, RC4, 3DES or static RSA key exchange.
 */
export const CHARGER_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** An error about the TLS files whose message names the files and the problem, never their contents. */
export class TlsMaterialError extends Error {
  override name = 'TlsMaterialError';
}

/**
 * Reads the files and builds the secure-context options, checking them by building a context once (a bad PEM, or
 * a key that does not match the certificate, fails here rather than at the first handshake).
 */
export async function loadTlsMaterial(files: TlsFiles): Promise<SecureContextOptions> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new TlsMaterialError(`cannot read the TLS ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const options: SecureContextOptions = {
    cert: await read(files.certFile, 'certificate'),
    key: await read(files.keyFile, 'key'),
    ca: files.caFile === undefined ? undefined : await read(files.caFile, 'CA'),
    minVersion: 'TLSv1.2',
    ciphers: CHARGER_CIPHERS,
    honorCipherOrder: true,
  };
  try {
    createSecureContext(options);
  } catch (err) {
    // OpenSSL's messages name the routine and reason ("PEM routines::no start line"), never key bytes.
    throw new TlsMaterialError(`the TLS files (${[files.certFile, files.keyFile, files.caFile].filter(Boolean).join(', ')}) are not usable: ${(err as Error).message}`);
  }
  return options;
}

/** Size, time and inode of each file: a change in any of them means new material (or a replaced file). */
async function signature(files: TlsFiles): Promise<string> {
  const parts: string[] = [];
  for (const file of [files.certFile, files.keyFile, files.caFile]) {
    if (file === undefined) continue;
    try {
      const s = await stat(file);
      parts.push(`${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`);
    } catch {
      parts.push('missing');
    }
  }
  return parts.join('|');
}

export interface TlsReloaderOptions {
  files: TlsFiles;
  /** Installs new material (server.setSecureContext); existing connections keep the context they began with. */
  apply(options: SecureContextOptions): void;
  /** Called once per reload attempt with its result; `error` names the files and the problem only. */
  onResult(result: 'ok' | 'failed', error?: TlsMaterialError): void;
  /** Quiet time after the last change event before reloading (writers replace cert and key one after the other). */
  debounceMs: number;
  /** Stat check for file systems where watching misses changes; 0: watching only. */
  pollMs: number;
}

/**
 * Reloads the certificate, key and CA when their files change (a watch on their folders, so a file replaced by
 * rename or a Kubernetes secret's symlink swap is seen too, plus a periodic stat) or when asked (SIGHUP). Nothing
 * is reloaded unless a file's size, time or inode changed, or the reload was asked for; a reload that fails keeps
 * the material in use.
 */
export class TlsReloader {
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private lastSignature = '';
  /** Reloads run one at a time; a request during one runs after it. */
  private running: Promise<void> | undefined;

  constructor(private readonly options: TlsReloaderOptions) {}

  async start(): Promise<void> {
    this.lastSignature = await signature(this.options.files);
    const folders = new Set([this.options.files.certFile, this.options.files.keyFile, this.options.files.caFile].filter((f) => f !== undefined).map((f) => dirname(f)));
    for (const folder of folders) {
      try {
        const watcher = watch(folder, { persistent: false }, () => this.changed());
        // A watched folder that goes away is no reason to stop the gateway: the stat poll carries on.
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Not watchable here (some network file systems): the poll covers it.
      }
    }
    if (this.options.pollMs > 0) {
      this.poll = setInterval(() => void this.reloadIfChanged(), this.options.pollMs);
      this.poll.unref();
    }
  }

  stop(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    clearTimeout(this.debounce);
    clearInterval(this.poll);
  }

  /** SIGHUP: reload now, changed or not. Resolves when done (its result went to onResult). */
  reload(): Promise<void> {
    return this.run(true);
  }

  private changed(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reloadIfChanged(), this.options.debounceMs);
    this.debounce.unref();
  }

  private reloadIfChanged(): Promise<void> {
    return this.run(false);
  }

  private run(force: boolean): Promise<void> {
    if (this.running !== undefined) return this.running.then(() => this.run(force));
    this.running = this.attempt(force).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async attempt(force: boolean): Promise<void> {
    const current = await signature(this.options.files);
    if (!force && current === this.lastSignature) return;
    this.lastSignature = current;
    let material: SecureContextOptions;
    try {
      material = await loadTlsMaterial(this.options.files);
      this.options.apply(material);
    } catch (err) {
      this.options.onResult('failed', err instanceof TlsMaterialError ? err : new TlsMaterialError(`the TLS material could not be installed: ${(err as Error).message}`));
      return;
    }
    this.options.onResult('ok');
  }
}
