/**
 * The operator dashboard in a real browser (headless Chromium driven by playwright-core) against the whole
 * application with real OCPP chargers on real WebSockets: the fleet counts move live when a charger connects,
 * the search finds a charger, its page shows what it reported, the command form checks the payload in the page
 * and shows the charger's answer, and the flight recorder's frames are shown and downloaded as JSON Lines that
 * are exactly the frames the charger sent and received. A second application with an admin token checks that
 * the page asks for it, then works. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { encodeCall, encodeCallResult, messageText } from '../src/sim/ocpp-j.js';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { ARTIFACTS_DIR, chromiumSkipReason, launchChromium, type PageDocument, pageErrors, waitForText } from './helpers/chromium.js';
import { OcppClient } from './helpers/ocpp-client.js';

// Functions passed to the page run in the browser, where these are the real globals.
declare const document: PageDocument;
declare const window: { testMark?: number };

const skip = chromiumSkipReason();
/** Snapshots every 500 ms instead of 2 s, so a count change shows within a second. */
const FAST_STATS = { admin: { dashboardIntervalMs: 500 } };
const ALPHA = 'dash-alpha-1';
const BETA = 'dash-beta-2';
const GAMMA = 'dash-gamma-3';

interface TappedCharger {
  client: OcppClient;
  /** Every text frame the gateway sent to this charger, as received. */
  fromGateway: string[];
}

/** A 1.6 charger that answers every command with Accepted, booted as `vendor`/`model`. */
async function connect16(url: string, identity: string, vendor: string, model: string): Promise<TappedCharger> {
  const client = await OcppClient.connect(url, identity, ['ocpp1.6'], { autoAnswer: () => ({ status: 'Accepted' }) });
  const fromGateway: string[] = [];
  client.ws.on('message', (data) => fromGateway.push(messageText(data as Buffer)));
  await client.call('BootNotification', { chargePointVendor: vendor, chargePointModel: model });
  return { client, fromGateway };
}

function statusNotification(connectorId: number, status: string) {
  return { connectorId, errorCode: 'NoError', status, timestamp: new Date().toISOString() };
}

async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  return { context, page: await context.newPage() };
}

/** Rows of a table drawn by the page, each as its cells' text. */
function rowsOf(page: Page, testId: string): Promise<string[][]> {
  return page.$$eval(`[data-testid="${testId}"] tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll('th,td')].map((c) => c.textContent?.trim() ?? '')));
}

describe('dashboard in a browser', { skip }, () => {
  let backend: BackendApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  const chargers: OcppClient[] = [];
  let alpha: TappedCharger;

  before(async () => {
    backend = await startBackendApp({ overrides: FAST_STATS });
    browser = await launchChromium();
    ({ context, page } = await newPage(browser));
    errors = pageErrors(page);
    alpha = await connect16(backend.chargerUrl, ALPHA, 'VoltWorks', 'VW-22');
    chargers.push(alpha.client);
    await alpha.client.call('StatusNotification', statusNotification(1, 'Available'));
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await Promise.all(chargers.map((c) => c.close()));
    await backend?.stop();
  });

  test('the fleet counts change live when chargers connect', async () => {
    await page.goto(`${backend.adminUrl}/`);
    await waitForText(page, 'connected-ocpp1.6', '1');
    await waitForText(page, 'connected-ocpp2.0.1', '0');
    // Marks this document: if the page reloaded to show the new counts, the mark would be gone.
    await page.evaluate(() => {
      window.testMark = 42;
    });

    // The rates cover one sampling interval: watch for the boots' bar from before they are sent.
    const bootBar = page.waitForSelector('[data-testid="actions-inbound"] tr[data-name="BootNotification"]', { timeout: 10_000 });
    const beta = await OcppClient.connect(backend.chargerUrl, BETA, ['ocpp2.0.1']);
    chargers.push(beta);
    await beta.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Emobi', model: 'E2' } });
    const gamma = await connect16(backend.chargerUrl, GAMMA, 'VoltWorks', 'VW-11');
    chargers.push(gamma.client);

    await waitForText(page, 'connected-ocpp2.0.1', '1');
    await waitForText(page, 'connected-ocpp1.6', '2');
    await waitForText(page, 'connected-total', '3');
    assert.equal(await page.evaluate(() => window.testMark), 42, 'the counts changed without a reload');
    assert.equal(await page.getAttribute('[data-testid="stream-state"]', 'data-state'), 'open');
    await bootBar;
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-fleet.png'), fullPage: true });
  });

  test('the search finds a charger by identity and by vendor, and its page shows what it reported', async () => {
    await page.click('a[data-nav="chargers"]');
    await page.waitForSelector('[data-testid="charger-table"]');
    await page.fill('[data-testid="charger-search"]', 'BETA');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="charger-table"] tbody tr').length === 1);
    const [beta] = await rowsOf(page, 'charger-table');
    assert.equal(beta[0], BETA);
    assert.equal(beta[1], 'ocpp2.0.1');
    assert.equal(beta[5], 'Emobi / E2');
    await waitForText(page, 'charger-total', '1–1 of 1 chargers');

    // Vendor, case-insensitive: the two VoltWorks chargers, by identity.
    await page.fill('[data-testid="charger-search"]', 'voltworks');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="charger-table"] tbody tr').length === 2);
    const rows = await rowsOf(page, 'charger-table');
    assert.deepEqual(
      rows.map((r) => [r[0], r[1], r[5], r[6]]),
      [
        [ALPHA, 'ocpp1.6', 'VoltWorks / VW-22', 'Available'],
        [GAMMA, 'ocpp1.6', 'VoltWorks / VW-11', '—'],
      ],
    );
    assert.match(page.url(), /#\/chargers\?q=voltworks$/);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-chargers.png'), fullPage: true });

    await page.click(`[data-testid="charger-table"] tr[data-identity="${ALPHA}"] a`);
    await waitForText(page, 'charger-identity', ALPHA);
    await waitForText(page, 'charger-protocol-value', 'ocpp1.6');
    await waitForText(page, 'charger-model', 'VoltWorks / VW-22');
    await page.waitForSelector('[data-testid="connectors"] tr[data-key="1"]');
    assert.deepEqual(
      (await rowsOf(page, 'connectors')).map((r) => r.slice(0, 3)),
      [['1', 'Available', 'NoError']],
    );

    // Its events arrive live: a status change shows in the list and, shortly after, in the connectors table.
    await page.waitForSelector('[data-testid="charger-events-state"][data-state="open"]');
    await alpha.client.call('StatusNotification', statusNotification(1, 'Preparing'));
    await page.waitForSelector('[data-testid="charger-events"] li[data-event-type="connector.status_changed"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="connectors"] tr[data-key="1"]')?.textContent?.includes('Preparing'), undefined, {
      timeout: 10_000,
    });
  });

  test('the command form checks the payload in the page, then shows the charger’s answer', async () => {
    const posted: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.url().endsWith('/calls')) posted.push(request.postData() ?? '');
    });
    await page.waitForSelector('[data-testid="command-action"]:not([disabled])');
    await page.selectOption('[data-testid="command-action"]', 'RemoteStartTransaction');
    assert.deepEqual(JSON.parse(await page.inputValue('[data-testid="command-payload"]')), { idTag: 'OPERATOR', connectorId: 1 });

    // Wrong in two ways: both paths are named, and nothing is sent.
    await page.fill('[data-testid="command-payload"]', '{"idTag": 5, "connectorId": "one"}');
    await page.click('[data-testid="command-send"]');
    await page.waitForSelector('[data-testid="command-problems"]');
    const problems = await page.$$eval('[data-testid="command-problems"] li', (items) => items.map((i) => i.textContent));
    assert.deepEqual(problems.sort(), ['/connectorId must be integer', '/idTag must be string']);
    assert.deepEqual(posted, []);
    assert.equal(alpha.client.received.filter((f) => f[0] === 2).length, 0, 'the charger got no CALL');

    await page.fill('[data-testid="command-payload"]', '{"idTag": "TAG-42", "connectorId": 1}');
    await page.click('[data-testid="command-send"]');
    await page.waitForSelector('[data-testid="command-response"]', { timeout: 10_000 });
    assert.deepEqual(JSON.parse((await page.textContent('[data-testid="command-response"]')) ?? ''), { status: 'Accepted' });
    assert.match((await page.textContent('[data-testid="command-result-status"]')) ?? '', /^RemoteStartTransaction answered in \d+ ms$/);
    const calls = alpha.client.received.filter((f) => f[0] === 2);
    assert.deepEqual(
      calls.map((f) => [f[2], f[3]]),
      [['RemoteStartTransaction', { idTag: 'TAG-42', connectorId: 1 }]],
    );
    assert.equal(posted.length, 1);
  });

  test('the flight recorder records, shows and downloads exactly the frames on the wire', async () => {
    await page.fill('[data-testid="recorder-duration"]', '60');
    await page.fill('[data-testid="recorder-max-frames"]', '100');
    await page.click('[data-testid="recorder-start"]');
    await page.waitForSelector('[data-testid="recorder-status"][data-active="true"]');

    const { client, fromGateway } = alpha;
    const tapped = fromGateway.length;
    const expected: Array<{ direction: 'in' | 'out'; frame: string }> = [];
    // Charger → gateway CALLs with the gateway's answers, then a command from the page and the charger's answer.
    for (const [action, payload] of [
      ['Heartbeat', {}],
      ['StatusNotification', statusNotification(1, 'Available')],
    ] as const) {
      const id = `rec-${action}`;
      const text = encodeCall(id, action, payload);
      client.sendRaw(text);
      await client.nextFrame();
      expected.push({ direction: 'in', frame: text });
      expected.push({ direction: 'out', frame: fromGateway[fromGateway.length - 1] });
    }
    await page.selectOption('[data-testid="command-action"]', 'TriggerMessage');
    await page.click('[data-testid="command-send"]');
    await page.waitForSelector('[data-testid="command-response"]', { timeout: 10_000 });
    const trigger = fromGateway[fromGateway.length - 1];
    const triggerId = JSON.parse(trigger)[1] as string;
    expected.push({ direction: 'out', frame: trigger });
    expected.push({ direction: 'in', frame: encodeCallResult(triggerId, { status: 'Accepted' }) });
    assert.equal(fromGateway.length - tapped, 3, 'three frames from the gateway during the recording');
    assert.deepEqual(JSON.parse(trigger).slice(2), ['TriggerMessage', { requestedMessage: 'Heartbeat' }]);

    await page.click('[data-testid="recorder-stop"]');
    await page.waitForSelector('[data-testid="recorder-status"][data-active="false"]');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="recorder-frames"] tbody tr').length === n, expected.length, { timeout: 10_000 });
    const shown = await page.$$eval('[data-testid="recorder-frames"] tbody tr', (rows) =>
      rows.map((r) => ({ direction: r.getAttribute('data-direction'), frame: r.querySelector('code')?.textContent })),
    );
    assert.deepEqual(shown, expected);
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard-charger.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="recorder-download"]')]);
    assert.equal(download.suggestedFilename(), `${ALPHA}-frames.jsonl`);
    const file = await readFile((await download.path()) as string, 'utf8');
    assert.ok(file.endsWith('\n'), 'every line ends with a newline');
    const lines = file
      .slice(0, -1)
      .split('\n')
      .map((line) => JSON.parse(line) as { at: string; direction: string; size: number; frame: string; truncated?: boolean });
    assert.deepEqual(
      lines.map((l) => ({ direction: l.direction, frame: l.frame })),
      expected,
    );
    for (const line of lines) {
      assert.equal(line.size, Buffer.byteLength(line.frame));
      assert.equal(line.truncated, undefined);
      assert.match(line.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.deepEqual(
      lines.map((l) => l.at),
      lines.map((l) => l.at).sort(),
      'oldest first',
    );
  });

  test('back on the fleet page, with some traffic behind it (the screenshot in the README)', async () => {
    await page.click('a[data-nav="overview"]');
    await waitForText(page, 'connected-total', '3');
    // Commands were answered in the last minute: the round-trip table has a count of them.
    await page.waitForSelector('[data-testid="latency"]');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'dashboard.png'), fullPage: true });
    assert.deepEqual(errors, [], 'the page logged no errors');
  });
});

describe('dashboard with an admin token', { skip }, () => {
  const TOKEN = 'browser-test-token-5d1b0c7e9a';
  let backend: BackendApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let charger: TappedCharger;

  before(async () => {
    backend = await startBackendApp({ overrides: { ...FAST_STATS, admin: { ...FAST_STATS.admin, token: TOKEN } } });
    browser = await launchChromium();
    ({ context, page } = await newPage(browser));
    charger = await connect16(backend.chargerUrl, 'dash-token-1', 'VoltWorks', 'VW-22');
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await charger?.client.close();
    await backend?.stop();
  });

  test('the page asks for the token, refuses a wrong one, then works and keeps it for the tab', async () => {
    const unauthorized: string[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/api/') && response.status() === 401) unauthorized.push(response.url());
    });
    await page.goto(`${backend.adminUrl}/`);
    await page.waitForSelector('[data-testid="auth-form"]:not([hidden])');
    assert.ok(unauthorized.length > 0, 'the API refused the page without a token');
    assert.equal(await page.$('[data-testid="connected-ocpp1.6"]'), null, 'no data without the token');

    await page.fill('[data-testid="auth-token"]', 'not-the-token');
    await page.click('[data-testid="auth-submit"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="auth-message"]')?.textContent?.includes('not accepted'));
    await page.waitForSelector('[data-testid="auth-form"]:not([hidden])');

    const sentWithToken: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/api/') && request.headers().authorization === `Bearer ${TOKEN}`) sentWithToken.push(request.url());
    });
    await page.fill('[data-testid="auth-token"]', TOKEN);
    await page.click('[data-testid="auth-submit"]');
    await waitForText(page, 'connected-ocpp1.6', '1');
    await page.waitForSelector('[data-testid="stream-state"][data-state="open"]');
    assert.equal(await page.isHidden('[data-testid="auth-form"]'), true);
    assert.ok(sentWithToken.some((u) => u.endsWith('/api/v1/dashboard/summary')));
    assert.ok(sentWithToken.some((u) => u.endsWith('/api/v1/dashboard/stream')));

    // A reload of the tab keeps the token (sessionStorage): no prompt, data at once.
    const refusedBefore = unauthorized.length;
    await page.reload();
    await waitForText(page, 'connected-ocpp1.6', '1');
    assert.equal(await page.isHidden('[data-testid="auth-form"]'), true);
    assert.equal(unauthorized.length, refusedBefore, 'no 401 after the reload');
  });
});
