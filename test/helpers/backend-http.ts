/**
 * The admin API as a backend sees it: commands over HTTP, the server-sent-events stream, health and metrics.
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http';

export interface ApiResponse {
  status: number;
  body: any;
  /** ms the request took, for the "at once" checks (compared only against generous bounds). */
  ms: number;
}

/** `POST /api/v1/charge-points/{id}/calls`. */
export async function postCall(adminUrl: string, chargePointId: string, body: Record<string, unknown>): Promise<ApiResponse> {
  const startedAt = Date.now();
  const res = await fetch(`${adminUrl}/api/v1/charge-points/${encodeURIComponent(chargePointId)}/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, ms: Date.now() - startedAt };
}

/** A GET that reports the status and body text, or the network error's code (e.g. ECONNREFUSED). */
export async function getText(url: string): Promise<{ status: number; text: string; error?: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { status: 0, text: '', error: cause?.code ?? String(err) };
  }
}

/**
 * The value of one sample in Prometheus text exposition, e.g. `metricSample(text, 'x_total', { kind: 'late' })`;
 * undefined when no sample has exactly these labels (other labels of the sample are ignored only when
 * `exact` is false).
 */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}, exact = false): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[m[1]] = m[2];
    const wanted = Object.entries(labels);
    if (wanted.every(([k, v]) => have[k] === v) && (!exact || Object.keys(have).length === wanted.length)) return Number(match[3]);
  }
  return undefined;
}

/** `GET /metrics` as text; fails unless it answers 200. */
export async function readMetrics(adminUrl: string): Promise<string> {
  const res = await getText(`${adminUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status} ${res.error ?? res.text.slice(0, 200)}`);
  return res.text;
}

/** One server-sent event as received, with `data` parsed as JSON (the raw text when it is not JSON). */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: any;
  raw: string;
}

/**
 * A client of the SSE stream on a raw HTTP request, so the test sees exactly when the server ends the stream.
 * Every event is kept in `events`, in arrival order.
 */
export class SseStream {
  readonly events: SseEvent[] = [];
  /** Resolves when the server ends the response (or the connection breaks). */
  readonly ended: Promise<{ how: 'end' | 'error' | 'aborted' }>;
  /** Comment lines (`: ...`) received, e.g. keepalives. */
  comments = 0;
  private buffer = '';
  private waiters: Array<() => void> = [];
  private isEnded = false;
  private closing = false;

  private constructor(
    private readonly req: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    response.setEncoding('utf8');
    this.ended = new Promise((resolve) => {
      const done = (how: 'end' | 'error' | 'aborted') => {
        if (this.isEnded) return;
        this.isEnded = true;
        this.notify();
        resolve({ how: this.closing ? 'aborted' : how });
      };
      response.on('data', (chunk: string) => this.onData(chunk));
      response.on('end', () => done('end'));
      response.on('error', () => done('error'));
      response.on('close', () => done(response.complete ? 'end' : 'error'));
      req.on('error', () => done('error'));
    });
  }

  /** Opens `{adminUrl}/api/v1/events?{query}` (with `headers`, e.g. Last-Event-ID) and resolves once the response headers have arrived. */
  static open(adminUrl: string, query: Record<string, string> = {}, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<SseStream> {
    const url = new URL(`${adminUrl}/api/v1/events`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`no SSE response headers within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('response', (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (c) => (body += String(c)));
          res.on('end', () => reject(new Error(`SSE stream answered ${res.statusCode}: ${body.slice(0, 300)}`)));
          return;
        }
        resolve(new SseStream(req, res));
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end();
    });
  }

  get contentType(): string | undefined {
    return this.response.headers['content-type'];
  }

  get hasEnded(): boolean {
    return this.isEnded;
  }

  private onData(chunk: string): void {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      this.parseBlock(block);
    }
    this.notify();
  }

  private parseBlock(block: string): void {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line === '') continue;
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else continue;
      any = true;
    }
    if (!any || data.length === 0) return;
    const raw = data.join('\n');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = raw;
    }
    this.events.push({ id, event, data: parsed, raw });
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The envelopes received so far (events whose data is an object with an eventType). */
  get envelopes(): any[] {
    return this.events.map((e) => e.data).filter((d) => d !== null && typeof d === 'object' && typeof d.eventType === 'string');
  }

  /**
   * Resolves with the first envelope matching `match` (received already or later); rejects after `timeoutMs`
   * or when the stream ends without one.
   */
  async waitFor(match: (envelope: any) => boolean, timeoutMs = 5000, what = 'a matching event'): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.envelopes.find(match);
      if (found !== undefined) return found;
      if (this.isEnded) throw new Error(`the SSE stream ended before ${what} (got ${this.summary()})`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${what} on the SSE stream within ${timeoutMs} ms (got ${this.summary()})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Event types received so far, for failure messages. */
  summary(limit = 40): string {
    const types = this.envelopes.map((e) => `${e.eventType}(${e.chargePointId})`);
    return types.length > limit ? `${types.slice(0, limit).join(', ')}, ... ${types.length} in all` : types.join(', ') || 'nothing';
  }

  /** Ends the stream from the client side and waits until the socket is gone. */
  async close(): Promise<void> {
    if (!this.isEnded) {
      this.closing = true;
      this.req.destroy();
      this.response.destroy();
    }
    await this.ended;
  }
}

/** A raw SSE client whose socket can be paused, to play a consumer that does not keep up. */
export function openRawStream(port: number, path = '/api/v1/events'): Promise<{ text: () => string; pause: () => void; resume: () => void; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<void>((done) => res.on('close', () => done()));
      resolve({ text: () => text, pause: () => res.socket.pause(), resume: () => res.socket.resume(), ended });
    });
    req.end();
  });
}

/** The SSE frames in raw stream text that carry data, with their id, event name and parsed data. */
// biome-ignore lint/suspicious/noExplicitAny: the frames' data are whatever events the test published
export function parseSseFrames(text: string): Array<{ id?: string; event?: string; data?: any }> {
  return text
    .split('\n\n')
    .filter((block) => block.split('\n').some((l) => l.startsWith('data:')))
    .map((block) => {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      const frame: { id?: string; event?: string; data?: any } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = JSON.parse(line.slice(6));
      }
      return frame;
    });
}
