import type { HistogramCell } from '../observability/hot-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import { type ActionId, actionId, NOT_AN_ACTION } from './catalogue.js';
import { isKnownErrorCode } from './errors.js';
import { PerAction } from './per-action.js';
import type { OcppVersion } from './versions.js';

type Cell = { value: number };

/** One action's metric cells, each resolved on first use so impossible combinations never show as zeros. */
class ActionCells {
  private inCall?: Cell;
  private outResult?: Cell;
  private outCall?: Cell;
  private inResult?: Cell;
  private inDuration?: HistogramCell;
  private outDuration?: HistogramCell;

  constructor(
    private readonly metrics: Metrics,
    private readonly label: string,
  ) {}

  countInboundCall(): void {
    (this.inCall ??= this.metrics.messages.cell('in', 'call', this.label)).value++;
  }

  countInboundAnswered(seconds: number): void {
    (this.outResult ??= this.metrics.messages.cell('out', 'result', this.label)).value++;
    this.metrics.callDuration.observe((this.inDuration ??= this.metrics.callDuration.cell('in', this.label)), seconds);
  }

  countOutboundCall(): void {
    (this.outCall ??= this.metrics.messages.cell('out', 'call', this.label)).value++;
  }

  countOutboundAnswered(seconds: number): void {
    (this.inResult ??= this.metrics.messages.cell('in', 'result', this.label)).value++;
    this.metrics.callDuration.observe((this.outDuration ??= this.metrics.callDuration.cell('out', this.label)), seconds);
  }
}

/**
 * The per-message metric calls of the RPC layer. Each action's metric cells are resolved once, so counting a
 * message is an addition. Actions outside the catalogue of the charger's version (the other version's too) are
 * counted as "unknown", so a charger inventing action names cannot grow the metric set.
 */
export class ProtocolMetrics {
  /** By action id: both versions' entries for one action name share its cells. */
  private readonly byAction: PerAction<ActionCells>;
  private readonly byName = new Map<string, ActionCells>();
  private readonly unknownAction: ActionCells;
  private readonly errorsSent = new Map<string, Cell>();

  constructor(readonly metrics: Metrics) {
    this.unknownAction = new ActionCells(metrics, 'unknown');
    this.byAction = new PerAction(({ action }) => {
      let cells = this.byName.get(action);
      if (cells === undefined) this.byName.set(action, (cells = new ActionCells(metrics, action)));
      return cells;
    });
  }

  private cells(id: ActionId): ActionCells {
    return id === NOT_AN_ACTION ? this.unknownAction : this.byAction.get(id);
  }

  /** A charger's CALL arrived; `id` is its action's (`actionId`), NOT_AN_ACTION for a name its version lacks. */
  inboundCall(id: ActionId): void {
    this.cells(id).countInboundCall();
  }

  inboundAnswered(id: ActionId, ms: number): void {
    this.cells(id).countInboundAnswered(ms / 1000);
  }

  outboundCall(action: string, version: OcppVersion): void {
    this.cells(actionId(version, action)).countOutboundCall();
  }

  outboundAnswered(action: string, version: OcppVersion, ms: number): void {
    this.cells(actionId(version, action)).countOutboundAnswered(ms / 1000);
  }

  outboundTimeout(action: string): void {
    this.metrics.outboundCallTimeouts.labels(action).inc();
  }

  callErrorSent(code: string): void {
    let cell = this.errorsSent.get(code);
    if (cell === undefined) this.errorsSent.set(code, (cell = this.metrics.callErrorsSent.cell(code)));
    cell.value++;
  }

  /** Codes from chargers are not trusted to be few: any code OCPP does not define is folded into "other". */
  callErrorReceived(code: string): void {
    const c = isKnownErrorCode(code) ? code : 'other';
    this.metrics.callErrorsReceived.labels(c).inc();
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
