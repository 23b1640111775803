/**
 * Server-sent events over fetch(). EventSource cannot send an Authorization header, so the page reads the
 * response body itself: a small text/event-stream parser (the WHATWG rules for fields, comments and line
 * ends) and a client that reconnects with backoff and resumes with Last-Event-ID where the stream has ids.
 */
import { authHeaders, onTokenChange, requireAuth } from './token';

export interface SseMessage {
  event: string;
  data: string;
  /** The last id the stream set, if any. */
  id?: string;
}

/** A line this long without an end is not an event stream this page should hold in memory. */
const MAX_LINE_CHARS = 8 * 1024 * 1024;

/** Feeds text chunks in, gets complete events out; keeps only the unfinished line and event between chunks. */
export class SseParser {
  private pending = '';
  private data: string[] = [];
  private event = '';
  lastEventId: string | undefined;
  /** The server's `retry:` advice in ms, if it gave one. */
  retryMs: number | undefined;

  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    let text = this.pending + chunk;
    let start = 0;
    for (;;) {
      const cr = text.indexOf('\r', start);
      const lf = text.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A \r at the very end may be the first half of \r\n: wait for the next chunk to know.
        if (cr === text.length - 1) break;
        end = cr;
        next = text[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      const message = this.line(text.slice(start, end));
      if (message !== undefined) out.push(message);
      start = next;
    }
    text = text.slice(start);
    if (text.length > MAX_LINE_CHARS) throw new Error('event stream line too long');
    this.pending = text;
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const data = this.data;
    const event = this.event || 'message';
    this.data = [];
    this.event = '';
    if (data.length === 0) return undefined;
    return { event, data: data.join('\n'), ...(this.lastEventId !== undefined ? { id: this.lastEventId } : {}) };
  }
}

export type StreamState = 'connecting' | 'open' | 'retrying' | 'unauthorized';

export interface StreamOptions {
  onMessage(message: SseMessage): void;
  onState?(state: StreamState, detail?: string): void;
  /** Send Last-Event-ID on reconnects (streams whose ids mean something when resumed). */
  resume?: boolean;
}

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

/** Opens `url` as an event stream and keeps it open until `close()`, reconnecting with exponential backoff. */
export function openStream(url: string, options: StreamOptions): { close(): void } {
  const abort = new AbortController();
  let lastEventId: string | undefined;
  let failures = 0;
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', onAbort, { once: true });
    });

  // A stream refused for want of a token waits for one instead of retrying on a timer.
  const untilToken = () =>
    new Promise<void>((resolve) => {
      const stop = onTokenChange(() => {
        stop();
        resolve();
      });
      wake = () => {
        stop();
        resolve();
      };
    });

  const readOnce = async (): Promise<number | undefined> => {
    options.onState?.('connecting');
    const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
    if (options.resume && lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await fetch(url, { headers, signal: abort.signal, cache: 'no-store' });
    if (res.status === 401) {
      options.onState?.('unauthorized');
      requireAuth();
      await untilToken();
      return 0;
    }
    if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}`);
    const parser = new SseParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    options.onState?.('open');
    failures = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const message of parser.push(value)) {
        if (message.id !== undefined) lastEventId = message.id;
        options.onMessage(message);
      }
    }
    return parser.retryMs;
  };

  void (async () => {
    while (!abort.signal.aborted) {
      let advice: number | undefined;
      try {
        advice = await readOnce();
        if (advice === 0) continue;
      } catch (err) {
        if (abort.signal.aborted) return;
        failures++;
        options.onState?.('retrying', (err as Error).message);
      }
      if (abort.signal.aborted) return;
      // The server ended the stream (shutdown, overflow) or it failed: back off, doubling per failure in a row.
      const delay = Math.min(MAX_DELAY_MS, (advice ?? FIRST_DELAY_MS) * 2 ** Math.min(failures, 5));
      options.onState?.('retrying');
      await sleep(delay * (0.8 + Math.random() * 0.4));
    }
  })();

  return {
    close: () => {
      abort.abort();
      wake?.();
    },
  };
}
