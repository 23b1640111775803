/**
 * Baseline responder: the least a server can do and still look like an OCPP central system to the
 * simulator. It accepts any /ocpp/{id}, picks the first offered ocpp1.6 / ocpp2.0.1, and answers
 * every CALL with a fixed, plausible CALLRESULT: it parses each frame's JSON (as every server must) and reads
 * nothing but the message id and action from it (no validation, no state beyond a transaction counter).
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
 * Parses the frame (as any server must to read a CALL) and answers `[2, id, action, ...]` with the fixed payload;
 * anything else, answers included, is ignored. The id is written back through JSON.stringify so that any id the
 * charger chose comes back exactly.
 */
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  if (isBinary) return;
  let frame: unknown;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (!Array.isArray(frame) || frame[0] !== 2 || typeof frame[1] !== 'string' || typeof frame[2] !== 'string') return;
  this.send(`[3,${JSON.stringify(frame[1])},${answer(frame[2], this.protocol === 'ocpp2.0.1')}]`);
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
