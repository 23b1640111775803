/**
 * The command round trip (scenario h): commands sent through one instance's admin API
 * (`POST /api/v1/charge-points/{id}/calls`) to chargers held by that instance and to chargers held by
 * another one, timed from the request to the HTTP answer. The chargers are `SimulatedCharger`s in the
 * benchmark process (1.6, booted, answering every central-system CALL from the simulator's table).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { SimulatedCharger } from '../src/sim/index.js';
import type { LatencyMs } from './results.js';

export interface CommandStats {
  /** Where the charger was, relative to the instance whose admin API took the command. */
  where: string;
  chargers: number;
  sent: number;
  /** Answered 200 with the charger's CALLRESULT. */
  completed: number;
  /** Other answers by HTTP status (`0`: no HTTP answer). */
  failedByStatus: Record<string, number>;
  latencyMs: LatencyMs;
  /**
   * The instance whose admin API took the commands: its `gateway_cluster_command_forwards_total` by outcome
   * over the run (cluster mode), which shows the commands for the other instance's chargers went through NATS.
   */
  forwardsByOutcome?: Record<string, number>;
}

export interface CommandSide {
  where: string;
  /** Chargers connect to `${url}/{identity}`. */
  url: string;
  prefix: string;
}

export interface CommandRunOptions {
  /** The admin API every command is sent to. */
  adminPort: number;
  sides: CommandSide[];
  chargersPerSide: number;
  commandsPerSide: number;
  /** Commands started per second, all sides together (open loop: the next is not held by a slow answer). */
  perSec: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** The command every round trip sends: small, valid in 1.6, answered Accepted by the simulated charger. */
const COMMAND = { action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Operative' }, timeoutMs: 10_000 };

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[i] * 100) / 100;
}

export function latencyOf(samples: number[]): LatencyMs {
  const s = [...samples].sort((a, b) => a - b);
  return { count: s.length, p50: percentile(s, 0.5), p90: percentile(s, 0.9), p99: percentile(s, 0.99), p999: percentile(s, 0.999), max: percentile(s, 1) };
}

function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 15_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Connects and boots the chargers of every side, sends the commands, closes the chargers. */
export async function runCommandRoundTrips(o: CommandRunOptions): Promise<CommandStats[]> {
  const chargers: SimulatedCharger[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const identities: string[][] = [];
    for (const side of o.sides) {
      const ids: string[] = [];
      for (let i = 1; i <= o.chargersPerSide; i++) {
        const identity = `${side.prefix}${i}`;
        const cp = new SimulatedCharger({ url: side.url, identity, protocols: ['ocpp1.6'] });
        chargers.push(cp);
        await cp.connect();
        // Answered only once the instance holds the charger (in cluster mode: after its claim in Redis).
        await cp.call('BootNotification', { chargePointVendor: 'Bench', chargePointModel: 'Round-trip' });
        ids.push(identity);
      }
      identities.push(ids);
    }
    o.log(`${chargers.length} chargers booted; ${o.commandsPerSide} commands per side at ${o.perSec}/s through admin port ${o.adminPort}`);

    const samples: number[][] = o.sides.map(() => []);
    const failed: Array<Record<string, number>> = o.sides.map(() => ({}));
    const completed: number[] = o.sides.map(() => 0);
    const pending: Promise<void>[] = [];
    const body = JSON.stringify(COMMAND);
    const gapMs = 1000 / o.perSec;
    const started = performance.now();
    let n = 0;
    for (let i = 0; i < o.commandsPerSide && !o.signal?.aborted; i++) {
      for (let s = 0; s < o.sides.length; s++) {
        const due = started + n * gapMs;
        n++;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const id = identities[s][i % identities[s].length];
        const t0 = performance.now();
        pending.push(
          post(agent, o.adminPort, `/api/v1/charge-points/${encodeURIComponent(id)}/calls`, body).then((status) => {
            if (status === 200) {
              samples[s].push(performance.now() - t0);
              completed[s]++;
            } else failed[s][String(status)] = (failed[s][String(status)] ?? 0) + 1;
          }),
        );
      }
    }
    await Promise.all(pending);
    return o.sides.map((side, s) => ({
      where: side.where,
      chargers: o.chargersPerSide,
      sent: completed[s] + Object.values(failed[s]).reduce((a, b) => a + b, 0),
      completed: completed[s],
      failedByStatus: failed[s],
      latencyMs: latencyOf(samples[s]),
    }));
  } finally {
    agent.destroy();
    await Promise.all(chargers.map((cp) => cp.close(1000).catch(() => undefined)));
  }
}
