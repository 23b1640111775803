/**
 * The ways a simulated charger's operations fail, made in one place so callers can tell an OCPP
 * CALLERROR (the server answered, and said no) from the server not answering at all.
 */

/**
 * The server answered a CALL with a CALLERROR. Also thrown by an `onCall` handler to make the
 * charger answer a central-system CALL with that CALLERROR.
 */
export class CallError extends Error {
  constructor(
    readonly code: string,
    readonly description = '',
    readonly details: unknown = {},
  ) {
    super(description ? `${code}: ${description}` : code);
    this.name = 'CallError';
  }
}

/** No CALLRESULT or CALLERROR arrived within the call timeout. */
export class CallTimeoutError extends Error {
  readonly code = 'CALL_TIMEOUT';
  constructor(
    readonly action: string,
    readonly timeoutMs: number,
  ) {
    super(`${action} not answered within ${timeoutMs} ms`);
    this.name = 'CallTimeoutError';
  }
}

/** The call could not be sent, or the socket closed while the call was outstanding. */
export class NotConnectedError extends Error {
  readonly code = 'NOT_CONNECTED';
  constructor(message = 'not connected') {
    super(message);
    this.name = 'NotConnectedError';
  }
}

/**
 * The WebSocket could not be opened. `reason` is short and stable so that reports can count
 * failures by it: an errno (`ECONNREFUSED`), `http-<status>`, `handshake-timeout`,
 * `no-subprotocol`, `invalid-subprotocol`, `closed-before-open`, ...
 */
export class ConnectError extends Error {
  readonly code = 'CONNECT_FAILED';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** Turns whatever ws or net reported during the opening handshake into a ConnectError reason. */
export function connectFailureReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e && typeof e.code === 'string' && /^E[A-Z0-9_]+$/.test(e.code)) return e.code;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  const http = /Unexpected server response: (\d+)/.exec(message);
  if (http) return `http-${http[1]}`;
  if (message.includes('handshake has timed out')) return 'handshake-timeout';
  if (message.includes('Server sent no subprotocol')) return 'no-subprotocol';
  if (message.includes('invalid subprotocol')) return 'invalid-subprotocol';
  if (message.includes('Invalid Sec-WebSocket-Accept')) return 'bad-accept-header';
  if (message.includes('Invalid Upgrade header')) return 'bad-upgrade-header';
  if (message.includes('socket hang up')) return 'ECONNRESET';
  return 'other';
}
