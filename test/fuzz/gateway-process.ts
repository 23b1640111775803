/**
 * The real gateway process under fuzz, and what the fuzzer reads of it: whether it is alive, and its own
 * Prometheus metrics (RSS is the gateway's `process_resident_memory_bytes`, never the test process's).
 */
import { request } from 'node:http';
import { type ServerProcess, startServerProcess } from '../helpers/gateway-harness.js';

export interface FuzzedGateway {
  proc: ServerProcess;
  port: number;
  adminPort: number;
  alive(): boolean;
  /** How the process ended, with the tail of its stderr, for a failure message. */
  deathNote(): string;
  stop(): Promise<number | null>;
}

/**
 * The fuzzer invents thousands of identities a minute and many of them report statuses, so the gateway remembers
 * them (README: what the gateway remembers) up to its configured bounds: about 75 MB with the defaults, reached
 * only after many minutes. The fuzzed gateway's bounds are set low so that what it may legitimately hold for them
 * (5,000 records, 20,000 entries: some 5 MB) stays well inside the RSS headroom, and anything above it is a leak.
 */
const REMEMBERED_BOUNDS = { CHARGERS_MAX_REMEMBERED: '5000', CHARGERS_MAX_REMEMBERED_ENTRIES: '20000' };

export async function startFuzzedGateway(env: Record<string, string> = {}): Promise<FuzzedGateway> {
  const proc = await startServerProcess({ env: { LOG_LEVEL: 'info', ...REMEMBERED_BOUNDS, ...env } });
  return {
    proc,
    port: proc.port,
    adminPort: proc.adminPort,
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    deathNote: () => `the gateway process exited (code ${proc.child.exitCode}, signal ${proc.child.signalCode}); stderr:\n${stderrSummary(proc.stderr)}`,
    stop: () => proc.stop(),
  };
}

/** Where the error was thrown (the head of the trace) and how the process ended (its tail), without the middle. */
function stderrSummary(lines: readonly string[]): string {
  if (lines.length <= 24) return lines.join('\n');
  return [...lines.slice(0, 12), `    ... ${lines.length - 22} lines ...`, ...lines.slice(-10)].join('\n');
}

export function httpText(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** One sample of the gateway's own metrics: name{labels} → value, summed over label sets when asked by name. */
export async function scrapeMetrics(adminPort: number): Promise<Map<string, number>> {
  const { status, body } = await httpText(adminPort, '/metrics');
  if (status !== 200) throw new Error(`/metrics answered ${status}`);
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (m[2] === undefined) out.set(m[1], value);
    else {
      out.set(m[1] + m[2], value);
      out.set(m[1], (out.get(m[1]) ?? 0) + value);
    }
  }
  return out;
}

export async function gatewayRss(adminPort: number): Promise<number> {
  const value = (await scrapeMetrics(adminPort)).get('process_resident_memory_bytes');
  if (value === undefined) throw new Error('the gateway reports no process_resident_memory_bytes');
  return value;
}
