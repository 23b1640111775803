/**
 * What the load generator remembers about one charger: where it is in its life (connection state),
 * where it is in its script (step, session, meter), and what the central system asked of it.
 * Plain fields on the connection object itself, so that a charger costs one object, not several.
 */
import { SimulatedCharger } from './client.js';
import type { Scheduled } from './heap.js';

export enum State {
  Waiting, // in the connect queue
  Connecting,
  Booting, // open: BootNotification and the first StatusNotifications, back to back
  Running, // open: paced CALLs
  Backoff, // closed, waiting to reconnect
  Stopped,
}

/** The steps of the charger's script, in order; a session runs Authorize to StatusAvailable. */
export enum Step {
  Heartbeat,
  Authorize,
  Start,
  StatusCharging,
  Meter,
  Stop,
  StatusAvailable,
}

/** A message the central system asked for with TriggerMessage. */
export interface Trigger {
  action: string;
  connector: number | undefined;
}

/** What a charger needs from the process that runs it when the central system asks it to act. */
export interface ChargerHost {
  /** Whether chargers send paced CALLs after booting. */
  readonly paced: boolean;
  trigger(c: LoadCharger, action: string, connector: number | undefined): void;
  kickSoon(c: LoadCharger): void;
}

export class LoadCharger extends SimulatedCharger implements Scheduled {
  dueAt = 0;
  heapPos = -1;
  state = State.Waiting;
  /** Failed attempts since the last open: the exponent of the back-off. */
  attempt = 0;
  /** Which of its (address, port) pairs the next connection uses; moves on at every attempt. */
  sourceRound = 0;
  /** Immediate retries after a local port clash, since the last open. */
  portRetries = 0;
  everOpened = false;
  everBooted = false;
  /** Cut by the drop and not booted again yet. */
  awaitingReboot = false;
  /** Since the drop: connection attempts, and those that failed (or closed before the boot) by reason. */
  stormAttempts = 0;
  stormFailures: Record<string, number> | null = null;
  /** Boot sequence: index of the next StatusNotification (connector number). */
  statusNext = 0;
  step = Step.Heartbeat;
  left = 0;
  connector = 1;
  inSession = false;
  txId16: number | undefined;
  txId201 = '';
  seqNo = 0;
  meterWh = Math.floor(Math.random() * 1_000_000);
  /** When the next paced CALL is due (triggered messages go in between without moving it). */
  nextSlotAt = 0;
  triggers: Trigger[] | null = null;
  remoteStart = false;
  remoteStop = false;

  constructor(
    readonly host: ChargerHost,
    readonly number: number,
    options: ConstructorParameters<typeof SimulatedCharger>[0],
  ) {
    super(options);
  }

  get idTag(): string {
    return `T${this.number}`.slice(0, 20);
  }
}
