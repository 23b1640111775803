/**
 * Headless Chromium for the browser tests, driven by playwright-core: Debian's /usr/bin/chromium (or
 * CHROMIUM_PATH), never a downloaded browser. Without it the tests are skipped with the reason, except in CI
 * (`CI=true`), where a missing browser is a failure.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * The little of the browser's DOM the page functions of the tests use. Those functions run in the page, but the
 * tests compile without the DOM library; a file declares `document` with this type for them.
 */
export interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
}
export type PageDocument = Pick<PageElement, 'querySelector' | 'querySelectorAll'>;
declare const document: PageDocument;

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots and other things worth looking at after a run: test-artifacts/ at the repository root (gitignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** `false` when Chromium is there, else the reason to skip; throws in CI, where the browser tests must run. */
export function chromiumSkipReason(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  const reason = `no Chromium at ${CHROMIUM_PATH}`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires it for the browser tests (apt-get install chromium)`);
  return `${reason} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ['--no-sandbox'] });
}

/** Waits until the element with this data-testid reads exactly `text`; the error says what it read instead. */
export async function waitForText(page: Page, testId: string, text: string, timeoutMs = 10_000): Promise<void> {
  try {
    await page.waitForFunction(([id, want]) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() === want, [testId, text] as const, {
      timeout: timeoutMs,
    });
  } catch {
    const seen = await page.evaluate((id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '(no such element)', testId);
    throw new Error(`[data-testid="${testId}"] did not read ${JSON.stringify(text)} within ${timeoutMs} ms; it reads ${JSON.stringify(seen)}`);
  }
}

/**
 * Collects what the page logs as errors (uncaught exceptions, console.error), to fail a test that hid one.
 * Chromium's own line for every HTTP error answer is left out: the API answers 404 NOT_RECORDING, 401 and the
 * like as part of normal use, and the page shows those itself.
 */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) errors.push(message.text());
  });
  return errors;
}
