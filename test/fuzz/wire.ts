/**
 * A WebSocket client written out byte by byte over a raw TCP socket, so the fuzzer can send what no WebSocket
 * library would: invalid UTF-8 in text frames, reserved opcodes and bits, unmasked or fragmented frames, half a
 * handshake, and a reset in the middle of anything. It reads the server's frames itself too.
 */

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface WireFrameOptions {
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (0 unless fuzzing). */
  rsv?: number;
  /** Clients must mask; false sends an unmasked frame (a protocol violation). */
  mask?: boolean;
  /** The four mask bytes; random when not given. A seeded test passes its own so that a frame can be replayed. */
  maskKey?: Buffer;
  /** The length in the 64-bit form whatever it is: legal, and a form a server must still read. */
  longLength?: boolean;
}

/** One client frame as bytes (RFC 6455 §5.2). */
export function encodeFrame(opcode: number, payload: Buffer, { fin = true, rsv = 0, mask = true, maskKey, longLength = false }: WireFrameOptions = {}): Buffer {
  const length = payload.length;
  const lengthBytes = longLength ? 8 : length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0x0f);
  header[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, payload]);
  const key = maskKey ?? randomBytes(4);
  key.copy(header, 2 + lengthBytes);
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([header, masked]);
}

export function closePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

export interface HttpHead {
  status: number;
  headers: Record<string, string>;
  raw: string;
}

/** A minimal HTTP request for an upgrade; every part can be replaced by the fuzzer. */
export function upgradeRequest(path: string, headers: Array<[string, string]>, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}

export function standardHeaders(port: number, protocols?: string): Array<[string, string]> {
  const h: Array<[string, string]> = [
    ['Host', `127.0.0.1:${port}`],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Version', '13'],
    ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
  ];
  if (protocols !== undefined) h.push(['Sec-WebSocket-Protocol', protocols]);
  return h;
}

/**
 * One raw connection: write bytes, read the HTTP answer head, then the server's frames. Pings from the server are
 * answered (a well-behaved peer) unless `autoPong` is off; every other frame waits in `frames` to be taken.
 */
export class RawConnection {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  head: HttpHead | undefined;
  readonly frames: ServerFrame[] = [];
  ended = false;
  error: Error | undefined;
  autoPong = true;
  private wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.ended = true;
      this.poke();
    });
  }

  /** A connection over a socket opened elsewhere (a TLS socket, once its handshake is done). */
  static over(socket: Socket): RawConnection {
    return new RawConnection(socket);
  }

  /** `localAddress`: the source address (any 127.x.y.z on loopback), so lanes can stand for many clients. */
  static open(port: number, localAddress?: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress });
      socket.setNoDelay(true);
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new RawConnection(socket));
      });
    });
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.head === undefined) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const raw = this.buffer.subarray(0, end).toString('latin1');
      this.buffer = this.buffer.subarray(end + 4);
      const [statusLine, ...lines] = raw.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      this.head = { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, raw };
      if (this.head.status !== 101) {
        // A refusal's body is whatever follows; keep it as one pseudo-frame of opcode -1 when the socket ends.
        this.poke();
        return;
      }
    }
    if (this.head.status !== 101) return;
    for (;;) {
      const frame = this.takeFrame();
      if (frame === undefined) break;
      if (frame.opcode === OP.ping && this.autoPong) this.write(encodeFrame(OP.pong, frame.payload));
      else this.frames.push(frame);
    }
    this.poke();
  }

  private takeFrame(): ServerFrame | undefined {
    const b = this.buffer;
    if (b.length < 2) return undefined;
    let length = b[1] & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (b.length < 4) return undefined;
      length = b.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (b.length < 10) return undefined;
      length = Number(b.readBigUInt64BE(2));
      offset = 10;
    }
    if (b.length < offset + length) return undefined;
    const frame = { opcode: b[0] & 0x0f, payload: Buffer.from(b.subarray(offset, offset + length)) };
    this.buffer = b.subarray(offset + length);
    return frame;
  }

  /** Waits until the HTTP answer head has been read (or the socket ended); undefined when none came in time. */
  async readHead(timeoutMs: number): Promise<HttpHead | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.head === undefined && !this.ended && Date.now() < end) await this.waitForData(end - Date.now());
    return this.head;
  }

  /** The body of a refused upgrade, once the server has closed the socket. */
  async readRefusalBody(timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < end) await this.waitForData(end - Date.now());
    return this.buffer.toString('utf8');
  }

  /** The next frame other than an answered ping; undefined when the socket ended or `timeoutMs` passed. */
  async nextFrame(timeoutMs: number): Promise<ServerFrame | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.frames.length === 0 && !this.ended && Date.now() < end) await this.waitForData(end - Date.now());
    return this.frames.shift();
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.wake = undefined;
          resolve();
        },
        Math.max(1, ms),
      );
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Waits until the server closes the TCP connection; false when it did not within `timeoutMs`. */
  async waitEnded(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < end) await this.waitForData(end - Date.now());
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Sends a TCP RST instead of a FIN. */
  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }
}

/** Opens a connection and completes an upgrade to `path`; throws unless the server answers 101. */
export async function openWebSocket(port: number, path: string, protocols: string, timeoutMs = 10_000): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  c.write(upgradeRequest(path, standardHeaders(port, protocols)));
  const head = await c.readHead(timeoutMs);
  if (head?.status !== 101) {
    c.destroy();
    throw new Error(`upgrade of ${path} answered ${head ? head.raw.split('\r\n')[0] : 'nothing'}`);
  }
  return c;
}
