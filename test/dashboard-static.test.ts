/**
 * The dashboard page as the admin server serves it, over real HTTP: the built shell at `/` and its hashed assets
 * (public even with a token, with the right cache headers), the API still behind the token, unknown paths still
 * refused as before, and a clear 503 when the page was not built.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAdminServer } from '../src/admin/admin-server.js';
import { BUILT_DASHBOARD_DIR } from '../src/admin/dashboard-static.js';
import { type BackendApp, startBackendApp } from './helpers/backend-app.js';
import { startGateway } from './helpers/gateway-harness.js';

const TOKEN = 'dashboard-static-test-token-0123456789';

/** The script and stylesheet the built index.html loads. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
}

describe('dashboard page served by the admin server', () => {
  let backend: BackendApp;

  before(async () => {
    assert.ok(existsSync(join(BUILT_DASHBOARD_DIR, 'index.html')), `no built dashboard in ${BUILT_DASHBOARD_DIR}: run npm run build first`);
    backend = await startBackendApp({ overrides: { admin: { token: TOKEN } } });
  });
  after(async () => {
    await backend?.stop();
  });

  test('/ is the built shell, public, revalidated on every load, with a policy that allows this origin only', async () => {
    const res = await fetch(`${backend.adminUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await res.text();
    assert.match(html, /<title>OCPP gateway dashboard<\/title>/);
    // Nothing is fetched from elsewhere at run time: every script and stylesheet is one of ours.
    assert.doesNotMatch(html, /(src|href)="https?:/);
    const assets = assetsOf(html);
    assert.equal(assets.filter((a) => a.endsWith('.js')).length, 1, html);
    assert.equal(assets.filter((a) => a.endsWith('.css')).length, 1, html);
  });

  test('hashed assets are public and immutable', async () => {
    const html = await (await fetch(`${backend.adminUrl}/`)).text();
    for (const asset of assetsOf(html)) {
      const res = await fetch(`${backend.adminUrl}${asset}`);
      assert.equal(res.status, 200, asset);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', asset);
      assert.match(res.headers.get('content-type') ?? '', asset.endsWith('.js') ? /javascript/ : /^text\/css/, asset);
      assert.ok((await res.arrayBuffer()).byteLength > 0);
    }
  });

  test('the API and unknown paths still need the token; health stays public', async () => {
    const api = await fetch(`${backend.adminUrl}/api/v1/charge-points`);
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    // No wildcard route: a path that is not a built file is refused as any unknown path is, not served publicly.
    for (const path of ['/assets/not-a-file.js', '/nope', '/index.htm']) {
      const res = await fetch(`${backend.adminUrl}${path}`);
      assert.equal(res.status, 401, path);
    }
    const authorized = await fetch(`${backend.adminUrl}/assets/not-a-file.js`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(authorized.status, 404);
    assert.equal(((await authorized.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    const health = await fetch(`${backend.adminUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  test('the static routes stay out of the OpenAPI document', async () => {
    const res = await fetch(`${backend.adminUrl}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const paths = Object.keys(((await res.json()) as { paths: Record<string, unknown> }).paths);
    assert.ok(paths.length > 0);
    assert.deepEqual(
      paths.filter((p) => !p.startsWith('/api/') && !['/healthz', '/readyz', '/metrics'].includes(p)),
      [],
    );
  });
});

describe('dashboard page not built', () => {
  test('/ answers 503 with one JSON error saying so; the API is unaffected', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'gw-no-dashboard-'));
    const harness = await startGateway();
    const admin = await startAdminServer(harness.gateway, { host: '127.0.0.1', port: 0, dashboardDir: empty });
    try {
      const res = await fetch(`http://127.0.0.1:${admin.port}/`);
      assert.equal(res.status, 503);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const text = await res.text();
      assert.equal(text.includes('\n'), false);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'UNAVAILABLE');
      assert.match(body.error.message, /dashboard was not built/);
      const api = await fetch(`http://127.0.0.1:${admin.port}/api/v1/charge-points`);
      assert.equal(api.status, 200);
    } finally {
      await admin.close();
      await harness.stop();
      await rm(empty, { recursive: true, force: true });
    }
  });
});
