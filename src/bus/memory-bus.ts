import { subjectMatches } from './subject-match.js';
import { type Bus, type BusHandler, type BusResponder, BusTimeoutError, NoRespondersError, type Subscription } from './types.js';

const MAX_REMEMBERED_SUBJECTS = 1024;

interface Entry {
  pattern: string;
  handler: BusHandler;
}

/**
 * The embedded bus: everything in process, delivered synchronously in publish order, so one charger's events
 * reach subscribers in the order they happened. Subscribers must not block; those that buffer (an SSE stream)
 * bound their own buffers.
 */
export class MemoryBus implements Bus {
  private readonly subscribers = new Set<Entry>();
  private readonly responders = new Map<string, BusResponder>();
  /** Whether a subject has a subscriber, per subject asked about; forgotten whenever a subscription comes or goes. */
  private readonly listened = new Map<string, boolean>();
  private closed = false;

  constructor(private readonly onHandlerError: (err: unknown, subject: string) => void = () => {}) {}

  publish(subject: string, data: unknown): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new Error('the bus is closed'));
    for (const entry of this.subscribers) {
      if (!subjectMatches(entry.pattern, subject)) continue;
      try {
        entry.handler({ subject, data });
      } catch (err) {
        this.onHandlerError(err, subject);
      }
    }
    return undefined;
  }

  hasListeners(subject: string): boolean {
    let known = this.listened.get(subject);
    if (known === undefined) {
      known = false;
      for (const entry of this.subscribers) {
        if (subjectMatches(entry.pattern, subject)) {
          known = true;
          break;
        }
      }
      // Event subjects are few (one per event type); anything asking about many more only costs a fresh look-up.
      if (this.listened.size >= MAX_REMEMBERED_SUBJECTS) this.listened.clear();
      this.listened.set(subject, known);
    }
    return known;
  }

  mayHaveResponders(subject: string): boolean {
    return this.responders.has(subject);
  }

  async request(subject: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const responder = this.responders.get(subject);
    if (responder === undefined || this.closed) throw new NoRespondersError(subject);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusTimeoutError(subject, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => responder({ subject, data })), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  subscribe<T>(pattern: string, handler: BusHandler<T>): Subscription {
    const entry: Entry = { pattern, handler: handler as BusHandler };
    this.subscribers.add(entry);
    this.listened.clear();
    return {
      unsubscribe: () => {
        this.subscribers.delete(entry);
        this.listened.clear();
      },
    };
  }

  respond(subject: string, responder: BusResponder): Subscription {
    if (this.responders.has(subject)) throw new Error(`${subject} already has a responder`);
    this.responders.set(subject, responder);
    return {
      unsubscribe: () => {
        if (this.responders.get(subject) === responder) this.responders.delete(subject);
      },
    };
  }

  isReady(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
    this.listened.clear();
    this.responders.clear();
  }
}
