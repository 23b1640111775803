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
  /**
   * The subscriptions that match a subject, in the order they were made, per subject published or asked about;
   * forgotten whenever a subscription comes or goes. Matching a pattern splits both strings, which per event and
   * subscriber showed in profiles of an event stream under load.
   */
  private readonly routes = new Map<string, readonly Entry[]>();
  private closed = false;

  constructor(private readonly onHandlerError: (err: unknown, subject: string) => void = () => {}) {}

  publish(subject: string, data: unknown): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new Error('the bus is closed'));
    const entries = this.routeOf(subject);
    if (entries.length === 0) return undefined;
    const message = { subject, data };
    for (const entry of entries) {
      // One that unsubscribed while an earlier handler ran gets nothing more.
      if (!this.subscribers.has(entry)) continue;
      try {
        entry.handler(message);
      } catch (err) {
        this.onHandlerError(err, subject);
      }
    }
    return undefined;
  }

  hasListeners(subject: string): boolean {
    return this.routeOf(subject).length > 0;
  }

  private routeOf(subject: string): readonly Entry[] {
    let entries = this.routes.get(subject);
    if (entries === undefined) {
      entries = [...this.subscribers].filter((entry) => subjectMatches(entry.pattern, subject));
      // Event subjects are few (one per event type); a publisher of many more only pays a fresh match each time.
      if (this.routes.size >= MAX_REMEMBERED_SUBJECTS) this.routes.clear();
      this.routes.set(subject, entries);
    }
    return entries;
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
    this.routes.clear();
    return {
      unsubscribe: () => {
        this.subscribers.delete(entry);
        this.routes.clear();
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
    this.routes.clear();
    this.responders.clear();
  }
}
