import type { Counter, Histogram } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';
import type { OcppVersion } from './versions.js';
import { actionDirection } from './catalogue.js';

/**
 * The per-message metric calls of the RPC layer, with label children cached per action: resolving labels on
 * every message costs more than the message itself. Actions outside the catalogue are counted as "unknown" so
 * a charger inventing action names cannot grow the metric set.
 */
export class ProtocolMetrics {
  private readonly children = new Map<string, Counter.Internal | Histogram.Internal<string>>();

  constructor(readonly metrics: Metrics) {}

  private label(action: string, version: OcppVersion): string {
    return actionDirection(version, action) === undefined ? 'unknown' : action;
  }

  private counter(key: string, make: () => Counter.Internal): Counter.Internal {
    let child = this.children.get(key) as Counter.Internal | undefined;
    if (child === undefined) this.children.set(key, (child = make()));
    return child;
  }

  private histogram(key: string, make: () => Histogram.Internal<string>): Histogram.Internal<string> {
    let child = this.children.get(key) as Histogram.Internal<string> | undefined;
    if (child === undefined) this.children.set(key, (child = make()));
    return child;
  }

  inboundCall(action: string, version: OcppVersion): void {
    const a = this.label(action, version);
    this.counter(`in.call.${a}`, () => this.metrics.messages.labels('in', 'call', a)).inc();
  }

  inboundAnswered(action: string, version: OcppVersion, ms: number): void {
    const a = this.label(action, version);
    this.counter(`out.result.${a}`, () => this.metrics.messages.labels('out', 'result', a)).inc();
    this.histogram(`h.in.${a}`, () => this.metrics.callDuration.labels('in', a)).observe(ms / 1000);
  }

  outboundCall(action: string, version: OcppVersion): void {
    const a = this.label(action, version);
    this.counter(`out.call.${a}`, () => this.metrics.messages.labels('out', 'call', a)).inc();
  }

  outboundAnswered(action: string, version: OcppVersion, ms: number): void {
    const a = this.label(action, version);
    this.counter(`in.result.${a}`, () => this.metrics.messages.labels('in', 'result', a)).inc();
    this.histogram(`h.out.${a}`, () => this.metrics.callDuration.labels('out', a)).observe(ms / 1000);
  }

  outboundTimeout(action: string): void {
    this.metrics.outboundCallTimeouts.labels(action).inc();
  }

  callErrorSent(code: string): void {
    this.counter(`err.out.${code}`, () => this.metrics.callErrorsSent.labels(code)).inc();
  }

  /** Codes from chargers are not trusted to be few: anything unusual is folded into "other". */
  callErrorReceived(code: string): void {
    const c = /^[A-Za-z]{1,40}$/.test(code) ? code : 'other';
    this.counter(`err.in.${c}`, () => this.metrics.callErrorsReceived.labels(c)).inc();
  }

  malformed(problem: string): void {
    this.metrics.malformedFrames.labels(problem).inc();
  }

  inboundCallRejected(): void {
    this.metrics.inboundCallsRejected.inc();
  }

  unmatchedResponse(kind: 'late' | 'unknown'): void {
    this.metrics.unmatchedResponses.labels(kind).inc();
  }

  validationFailure(action: string, direction: 'request' | 'response', mode: string): void {
    this.metrics.validationFailures.labels(action, direction, mode).inc();
  }
}
