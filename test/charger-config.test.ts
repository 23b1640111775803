/**
 * Configuration, through the real server process (`node dist/src/main.js`): a bad value stops start-up with one
 * line naming the key; defaults → application.yaml → application-{APP_PROFILE}.yaml → environment.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, rawUpgrade, runServerProcessToExit, startServerProcess, within } from './helpers/gateway-harness.js';
import { bootPayload, expectResult } from './helpers/ocpp-assert.js';
import { OcppClient } from './helpers/ocpp-client.js';

describe('invalid configuration stops the real process', () => {
  it('SERVER_PORT=abc: exits non-zero with one line naming server.port', async () => {
    const { code, stderr, stdout } = await runServerProcessToExit({ env: { SERVER_PORT: 'abc' } });
    assert.notEqual(code, 0);
    assert.notEqual(code, null, 'it exited by itself');
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /server\.port/);
    assert.doesNotMatch(stdout, /gateway accepting chargers/);
  });

  it('SERVER_PORT=70000 (out of range): exits non-zero with one line naming server.port', async () => {
    const { code, stderr } = await runServerProcessToExit({ env: { SERVER_PORT: '70000' } });
    assert.ok(code !== 0 && code !== null);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got: ${stderr}`);
    assert.match(lines[0], /server\.port/);
  });

  it('a bad value in application.yaml names its key (keepalive.intervalMs)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-badcfg-'));
    try {
      await writeFile(join(dir, 'application.yaml'), 'keepalive:\n  intervalMs: 5\n');
      const { code, stderr } = await runServerProcessToExit({ env: { CONFIG_DIR: dir } });
      assert.ok(code !== 0 && code !== null);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line, got: ${stderr}`);
      assert.match(lines[0], /keepalive\.intervalMs/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration layers in the real process', () => {
  let dir: string;
  let basePort: number;
  let profilePort: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gw-layers-'));
    // Ports in the files that nothing listens on: the environment must win over both.
    basePort = await freePort();
    profilePort = await freePort();
    await writeFile(
      join(dir, 'application.yaml'),
      `server:\n  port: ${basePort}\n  pathPrefix: /ocpp\nlocalAnswers:\n  bootIntervalSeconds: 111\nkeepalive:\n  intervalMs: 20000\n`,
    );
    await writeFile(join(dir, 'application-test.yaml'), `server:\n  port: ${profilePort}\n  pathPrefix: /cs\nlocalAnswers:\n  bootIntervalSeconds: 222\n`);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function effectiveConfig(stdout: string[]): Record<string, any> {
    const line = stdout.map((l) => JSON.parse(l) as Record<string, any>).find((e) => e.msg === 'effective configuration');
    assert.ok(line, 'the effective configuration is logged at start');
    return line.config as Record<string, any>;
  }

  it('APP_PROFILE=test: the profile file overrides the base file, the environment overrides both', async () => {
    const proc = await startServerProcess({ env: { CONFIG_DIR: dir, APP_PROFILE: 'test' } });
    try {
      assert.notEqual(proc.port, basePort);
      assert.notEqual(proc.port, profilePort);
      const config = effectiveConfig(proc.stdout);
      assert.equal(config.profile, 'test');
      assert.equal(config.server.port, proc.port, 'SERVER_PORT from the environment');
      assert.equal(config.server.pathPrefix, '/cs', 'from the profile file');
      assert.equal(config.localAnswers.bootIntervalSeconds, 222, 'from the profile file');
      assert.equal(config.keepalive.intervalMs, 20000, 'from the base file, which the profile leaves alone');

      // And the running gateway behaves accordingly: chargers connect under /cs and get the profile's interval.
      const client = await OcppClient.connect(`${proc.url}/cs`, 'PROFILE-1', ['ocpp1.6']);
      try {
        const boot = expectResult(await client.call('BootNotification', bootPayload('ocpp1.6')));
        assert.equal(boot.status, 'Accepted');
        assert.equal(boot.interval, 222);
      } finally {
        await client.close();
      }
      assert.equal((await rawUpgrade(proc.port, '/ocpp/PROFILE-2', { 'Sec-WebSocket-Protocol': 'ocpp1.6' })).status, 404);
    } finally {
      assert.equal(await proc.stop(), 0, 'SIGTERM ends the process cleanly');
    }
  });

  it('without APP_PROFILE the base file applies (and the environment still wins)', async () => {
    const proc = await startServerProcess({ env: { CONFIG_DIR: dir, KEEPALIVE_INTERVAL_MS: '15000' } });
    try {
      const config = effectiveConfig(proc.stdout);
      assert.equal(config.profile, undefined);
      assert.equal(config.server.pathPrefix, '/ocpp');
      assert.equal(config.keepalive.intervalMs, 15000, 'KEEPALIVE_INTERVAL_MS from the environment');
      const client = await OcppClient.connect(`${proc.url}/ocpp`, 'BASE-1', ['ocpp2.0.1']);
      try {
        assert.equal(expectResult(await client.call('BootNotification', bootPayload('ocpp2.0.1'))).interval, 111);
      } finally {
        await client.close();
      }
    } finally {
      assert.equal(await proc.stop(), 0);
    }
  });

  it('SIGTERM with a charger connected: the charger is closed with 1001 and the process exits 0', async () => {
    const proc = await startServerProcess({ env: { CONFIG_DIR: dir } });
    const client = await OcppClient.connect(`${proc.url}/ocpp`, 'SIGTERM-1', ['ocpp1.6']);
    try {
      expectResult(await client.call('Heartbeat', {}));
      // stop() sends SIGTERM and escalates to SIGKILL after 5 s (exit code null): drainMs is 0, so 5 s is generous.
      const code = await proc.stop();
      const closed = await within(client.closed, 2000, 'the charger seeing its close');
      assert.equal(code, 0, `exit code ${code} (charger closed with ${closed.code}); last log lines: ${proc.stdout.slice(-2).join(' | ')}`);
      assert.equal(closed.code, 1001, `charger closed with ${closed.code} ${closed.reason}`);
    } finally {
      client.terminate();
    }
  });
});

describe("glibc's mmap threshold, which keeps freed memory from being held", () => {
  // Where the C library is not glibc the variable means nothing and the gateway says nothing about it.
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime !== undefined;
  const warnings = (stdout: string[]) =>
    stdout.map((l) => JSON.parse(l) as { level: number; msg: string; variable?: string; value?: string }).filter((e) => e.msg.includes('MALLOC_MMAP_THRESHOLD_'));

  it('npm start sets it', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, 'MALLOC_MMAP_THRESHOLD_=131072 node dist/src/main.js');
  });

  it('a process started with it says nothing about it', async () => {
    const proc = await startServerProcess();
    try {
      assert.deepEqual(warnings(proc.stdout), []);
    } finally {
      await proc.stop();
    }
  });

  it('a process started without it (node dist/src/main.js alone) says so in one warning naming the variable and its value', {
    skip: glibc ? false : 'not glibc',
  }, async () => {
    const proc = await startServerProcess({ withoutMallocTuning: true });
    try {
      const found = warnings(proc.stdout);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.equal(found[0].level, 40);
      assert.equal(found[0].variable, 'MALLOC_MMAP_THRESHOLD_');
      assert.equal(found[0].value, '131072');
    } finally {
      await proc.stop();
    }
  });
});
