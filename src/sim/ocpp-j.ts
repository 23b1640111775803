/**
 * OCPP-J as a charger speaks it on the wire, in one place for the simulator's chargers and the test
 * clients: how a CALL, a CALLRESULT and a CALLERROR are spelled, how a received frame is read, which
 * answer belongs to which CALL, how message ids are made, and how a charger opens its WebSocket.
 * Plain functions over plain arrays, so the load generator pays nothing per connection for them.
 * It is kept apart from the gateway's own framing (src/ocpp/framing.ts) on purpose: the tests check
 * the gateway's frames with a client whose code is not the code under test.
 */
import { isIP, type NetConnectOpts, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions as TlsConnectionOptions, connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';

export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;

/** A received frame: the JSON array as sent, or `[text]` when the text was not a JSON array. */
export type Frame = unknown[];

export function encodeCall(messageId: string, action: string, payload: unknown): string {
  return JSON.stringify([CALL, messageId, action, payload]);
}

export function encodeCallResult(messageId: string, payload: unknown): string {
  return JSON.stringify([CALLRESULT, messageId, payload]);
}

export function encodeCallError(messageId: string, code: string, description: string, details: unknown): string {
  return JSON.stringify([CALLERROR, messageId, code, description, details]);
}

/** The text of a ws message, however ws delivered its bytes. */
export function messageText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** The JSON array a text frame holds, or undefined when it is not JSON or not an array. */
export function parseFrame(text: string): Frame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed : undefined;
}

/** A received text as a frame: the array it holds, or `[text]` (what both clients keep of a frame they cannot read). */
export function readFrame(text: string): Frame {
  return parseFrame(text) ?? [text];
}

/** Whether a frame is a CALL: [2, messageId, action, payload]. */
export function isCall(frame: Frame): boolean {
  return frame[0] === CALL && typeof frame[1] === 'string' && typeof frame[2] === 'string';
}

/** The action of the CALL a text encodes, with its message id, or undefined for any other text. */
export function callInText(text: string): { messageId: string; action: string } | undefined {
  const frame = parseFrame(text);
  return frame && isCall(frame) ? { messageId: frame[1] as string, action: frame[2] as string } : undefined;
}

/** What came back for a CALL. */
export type Answer = { kind: 'result'; messageId: string; payload: unknown } | { kind: 'error'; messageId: string; code: string; description: string; details: unknown };

/**
 * The answer a frame carries: a CALLRESULT or CALLERROR with a string message id, or undefined.
 * A CALLERROR without a usable code reads as GenericError, one without a description as ''.
 */
export function readAnswer(frame: Frame): Answer | undefined {
  const messageId = frame[1];
  if (typeof messageId !== 'string') return undefined;
  if (frame[0] === CALLRESULT) return { kind: 'result', messageId, payload: frame[2] };
  if (frame[0] !== CALLERROR) return undefined;
  return {
    kind: 'error',
    messageId,
    code: typeof frame[2] === 'string' ? frame[2] : 'GenericError',
    description: typeof frame[3] === 'string' ? frame[3] : '',
    details: frame[4] ?? {},
  };
}

/** Whether a frame answers (CALLRESULT or CALLERROR) the CALL with this message id. */
export function answers(frame: Frame, messageId: string): boolean {
  return (frame[0] === CALLRESULT || frame[0] === CALLERROR) && frame[1] === messageId;
}

/**
 * A source of message ids unique within this process (OCPP-J asks them unique per sender on a
 * connection): the prefix, the process id and a counter, in base 36 to keep frames short.
 */
export function processMessageIds(prefix: string): () => string {
  const stem = `${prefix}${process.pid.toString(36)}-`;
  let counter = 0;
  return () => stem + (++counter).toString(36);
}

/** ws's client options, with the source address and port a load generator binds. */
export type ChargerSocketOptions = NonNullable<ConstructorParameters<typeof WebSocket>[2]>;

/**
 * Opens a charger's WebSocket: the OCPP versions it offers in its order of preference, no
 * per-message compression (OCPP-J does not use it), no redirects followed (a charger talks to the
 * endpoint it was given). `options` adds to or overrides these.
 */
export function openChargerSocket(url: string, protocols: string | string[], options: ChargerSocketOptions = {}, onTcpConnected?: () => void): WebSocket {
  const connectTold = onTcpConnected === undefined ? {} : { createConnection: connectingSocket(url.startsWith('wss:'), onTcpConnected) };
  return new WebSocket(url, protocols, { perMessageDeflate: false, followRedirects: false, ...connectTold, ...options } as ChargerSocketOptions);
}

/** What ws hands its `createConnection`: http.request's options, with TLS's where the URL is wss://. */
type ConnectionOptions = { host?: string; servername?: string; socketPath?: string } & Record<string, unknown>;
type CreateConnection = (options: ConnectionOptions) => Socket;

/**
 * The socket ws would open (a TCP connection, or TLS over one, as its own defaults make them), telling `onTcpConnected`
 * when the TCP handshake completes (on the client's side): a storm's slow handshake can then be split into SYNs the
 * server's kernel dropped (a slow TCP connect) and the wait for the upgrade after it. It mirrors ws 8's own
 * `netConnect` and `tlsConnect`, which ws does not export.
 */
function connectingSocket(secure: boolean, onTcpConnected: () => void): CreateConnection {
  return (options) => {
    let socket: Socket;
    // As ws's own defaults do, on the options object ws made for this connection.
    if (secure) {
      options.path = undefined;
      if (!options.servername && options.servername !== '') options.servername = isIP(options.host ?? '') ? '' : options.host;
      socket = tlsConnect(options as unknown as TlsConnectionOptions);
    } else {
      options.path = options.socketPath;
      socket = netConnect(options as unknown as NetConnectOpts);
    }
    // A TLS socket emits `connect` for its TCP connection, before its own handshake.
    socket.once('connect', onTcpConnected);
    return socket;
  };
}
