/**
 * glibc's malloc keeps memory the gateway has freed unless its mmap threshold is fixed at start.
 *
 * By default glibc raises the threshold each time a block it had mapped on its own is freed, up to 32 MiB. One
 * scrypt password check frees 16 MiB on a thread-pool thread, so after the first charger with a password every
 * Buffer below 16 MiB (frames, TLS records) comes from malloc's arenas instead, and the arenas keep what they held.
 * Under the fuzz campaign that was about 100 MiB more resident memory than with the threshold fixed, which glibc
 * never gave back; four scrypt runs at once alone keep 64 MiB. Fixing the threshold also turns the raising off.
 * glibc reads it only when a process starts, so it has to be in the environment the gateway is started with:
 * `npm start` and the worker processes set it, and a process started without it says so in its log.
 */
export const MMAP_THRESHOLD_VARIABLE = 'MALLOC_MMAP_THRESHOLD_';
/** 128 KiB, glibc's own starting value: blocks this large and larger are mapped, and unmapped when freed. */
export const MMAP_THRESHOLD_BYTES = '131072';

/** The environment for a child gateway process: the threshold, unless the operator chose their own. */
export function withMallocTuning(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return env[MMAP_THRESHOLD_VARIABLE] === undefined ? { ...env, [MMAP_THRESHOLD_VARIABLE]: MMAP_THRESHOLD_BYTES } : env;
}

/** True when this process runs on glibc with the threshold left to move (an empty value counts as not set). */
export function mallocThresholdFloats(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return false;
  // The diagnostic report names the glibc the process runs on; musl and others ignore the variable anyway.
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  if (report?.header?.glibcVersionRuntime === undefined) return false;
  if (env[MMAP_THRESHOLD_VARIABLE] !== undefined && env[MMAP_THRESHOLD_VARIABLE] !== '') return false;
  return !(env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.mmap_threshold');
}
