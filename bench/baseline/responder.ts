/**
 * Baseline responder: the least a server can do and still look like an OCPP central system to the
 * simulator. It accepts any /ocpp/{id}, picks the first offered ocpp1.6 / ocpp2.0.1, and answers
 * every CALL with a fixed, plausible CALLRESULT, reading nothing but the message id and action
 * (no JSON parsing, no validation, no state beyond a transaction counter).
 *
 * The benchmark runs it and the real gateway on the same machine with the same load: the gap
 * between the two is what the gateway's work costs.
 *
 *   node dist/bench/baseline/responder.js --port 9000      (or PORT=9000; 0 picks a free port)
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { type WebSocket, WebSocketServer } from 'ws';

const SUPPORTED = ['ocpp1.6', 'ocpp2.0.1'];

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    backlog: { type: 'string' },
  },
  strict: true,
});
const port = Number(values.port ?? process.env.PORT ?? 9000);
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
// Big runs open thousands of connections a second; the kernel caps this at net.core.somaxconn.
const backlog = Number(values.backlog ?? 4096);

// Timestamps in answers are refreshed a few times a second instead of formatted per message.
let now = new Date().toISOString();
setInterval(() => (now = new Date().toISOString()), 200).unref();

let transactionId = 0;

/** The fixed answer per action, by version. */
function answer(action: string, v201: boolean): string {
  switch (action) {
    case 'BootNotification':
      return `{"currentTime":"${now}","interval":300,"status":"Accepted"}`;
    case 'Heartbeat':
      return `{"currentTime":"${now}"}`;
    case 'Authorize':
      return v201 ? '{"idTokenInfo":{"status":"Accepted"}}' : '{"idTagInfo":{"status":"Accepted"}}';
    case 'StartTransaction':
      return `{"transactionId":${++transactionId},"idTagInfo":{"status":"Accepted"}}`;
    case 'StopTransaction':
      return '{"idTagInfo":{"status":"Accepted"}}';
    case 'TransactionEvent':
      return '{"idTokenInfo":{"status":"Accepted"}}';
    case 'DataTransfer':
      return '{"status":"Accepted"}';
    case 'SignCertificate':
    case 'NotifyEVChargingSchedule':
      return '{"status":"Accepted"}';
    case 'NotifyEVChargingNeeds':
      return '{"status":"Accepted"}';
    case 'GetCertificateStatus':
      return '{"status":"Failed"}';
    case 'Get15118EVCertificate':
      return '{"status":"Failed","exiResponse":""}';
    default:
      return '{}';
  }
}

/**
 * Reads a JSON string token starting at `i` (which must be a quote); returns [value, next index]
 * or null. Escapes are kept as they are: ids and action names never need them.
 */
function readString(text: string, i: number): [string, number] | null {
  if (text.charCodeAt(i) !== 34) return null;
  const end = text.indexOf('"', i + 1);
  if (end < 0) return null;
  return [text.slice(i + 1, end), end + 1];
}

function skipSpace(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++i);
  return i;
}

/** Picks the id and action out of `[2,"id","Action",...]`; null for anything else (answers are ignored). */
function callHead(text: string): [string, string] | null {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 91) return null; // [
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== 50) return null; // 2
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== 44) return null; // ,
  const id = readString(text, skipSpace(text, i + 1));
  if (!id) return null;
  i = skipSpace(text, id[1]);
  if (text.charCodeAt(i) !== 44) return null;
  const action = readString(text, skipSpace(text, i + 1));
  if (!action) return null;
  return [id[0], action[0]];
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  if (isBinary) return;
  const head = callHead(data.toString());
  if (!head) return;
  this.send(`[3,"${head[0]}",${answer(head[1], this.protocol === 'ocpp2.0.1')}]`);
}

function ignoreError(): void {
  // A reset connection is normal under load; it must not take the process down.
}

const server = http.createServer((_req, res) => {
  res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
});

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  clientTracking: false,
  handleProtocols: (offered) => {
    for (const p of offered) if (SUPPORTED.includes(p)) return p;
    return false;
  },
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', ignoreError);
  if (!req.url || !/^\/ocpp\/[^/]+$/.test(req.url.split('?')[0])) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', onMessage);
    ws.on('error', ignoreError);
  });
});

server.listen({ port, host, backlog }, () => {
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`listening ${actual}\n`);
});

function shutdown(): void {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
