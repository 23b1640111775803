/**
 * The charger memory across a graceful restart: written to `{stateDir}/charger-memory.json` when the gateway
 * closes, read (and removed) when it starts.
 *
 * Removed once read, so that only a graceful stop brings memory back: after a crash the gateway starts with an
 * empty memory rather than the one of some earlier restart, whose statuses and transactions would be stale. A
 * file that cannot be read is set aside (renamed `.unreadable`) with a warning; the gateway starts anyway, as
 * it would after a crash.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ChargerSnapshot } from './charger-memory.js';

const FILE = 'charger-memory.json';
const VERSION = 1;

export interface SavedChargerMemory {
  /** ms since the epoch when the gateway stopped: remembered chargers count as gone since then. */
  savedAt: number;
  /** The highest presence epoch the stopped gateway handed out; the next one starts above it. */
  epoch: number;
  chargers: ChargerSnapshot[];
}

export async function readChargerMemory(stateDir: string, log: Logger): Promise<SavedChargerMemory | undefined> {
  const file = resolve(stateDir, FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let saved: SavedChargerMemory | undefined;
  try {
    const data = JSON.parse(text) as Partial<SavedChargerMemory> & { version?: number };
    if (data.version === VERSION && typeof data.savedAt === 'number' && typeof data.epoch === 'number' && Array.isArray(data.chargers)) {
      saved = { savedAt: data.savedAt, epoch: data.epoch, chargers: data.chargers };
    }
  } catch {
    saved = undefined;
  }
  if (saved === undefined) {
    log.warn({ file }, 'charger memory file unreadable; set aside, starting without it');
    await rename(file, `${file}.unreadable`);
    return undefined;
  }
  await unlink(file);
  return saved;
}

export async function writeChargerMemory(stateDir: string, saved: SavedChargerMemory): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const file = resolve(stateDir, FILE);
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify({ version: VERSION, ...saved }), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}
