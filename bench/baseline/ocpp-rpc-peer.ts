/**
 * Peer baseline: an OCPP central system built on the `ocpp-rpc` library in its strictest mode
 * (`strictMode: true`: every CALL it receives and every answer it gives is checked against the
 * OCPP JSON schemas). It answers every action the simulator sends with a fixed, schema-valid
 * payload and does nothing else: no events, no metrics, no state beyond a transaction counter.
 *
 * Where the raw responder says what a server costs at the least, this says what a well-known
 * library that also validates costs: the gateway is compared per core against both.
 *
 *   node dist/bench/baseline/ocpp-rpc-peer.js --port 9000      (or PORT=9000; 0 picks a free port)
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import { parseArgs } from 'node:util';
import { createRPCError, type IHandlersOption, RPCServer } from 'ocpp-rpc';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
  },
  strict: true,
});
const port = Number(values.port ?? process.env.PORT ?? 9000);
const host = values.host ?? process.env.HOST ?? '127.0.0.1';

let transactionId = 0;
const accepted = { status: 'Accepted' } as const;

/** The fixed answer per action and version; undefined: not an action a charger sends (answered NotImplemented). */
function answer(action: string, v201: boolean): Record<string, unknown> | undefined {
  const now = new Date().toISOString();
  switch (action) {
    case 'BootNotification':
      return { currentTime: now, interval: 300, status: 'Accepted' };
    case 'Heartbeat':
      return { currentTime: now };
    case 'Authorize':
      return v201 ? { idTokenInfo: accepted } : { idTagInfo: accepted };
    case 'StartTransaction':
      return v201 ? undefined : { transactionId: ++transactionId, idTagInfo: accepted };
    case 'StopTransaction':
      return v201 ? undefined : { idTagInfo: accepted };
    case 'TransactionEvent':
      return v201 ? { idTokenInfo: accepted } : undefined;
    case 'DataTransfer':
      return { status: 'Accepted' };
    case 'StatusNotification':
    case 'MeterValues':
    case 'FirmwareStatusNotification':
    case 'DiagnosticsStatusNotification':
    case 'LogStatusNotification':
    case 'SecurityEventNotification':
    case 'NotifyEvent':
    case 'NotifyReport':
    case 'NotifyMonitoringReport':
      return {};
    default:
      return undefined;
  }
}

const server = new RPCServer({
  protocols: ['ocpp1.6', 'ocpp2.0.1'],
  strictMode: true,
});

server.on('client', (client) => {
  const v201 = client.protocol === 'ocpp2.0.1';
  client.handle(async ({ method }: IHandlersOption) => {
    const payload = answer(String(method), v201);
    if (payload === undefined) throw createRPCError('NotImplemented', `${String(method)} is not answered by this peer`);
    return payload;
  });
  client.on('error', () => {
    // A reset connection is normal under load; it must not take the process down.
  });
});

const httpServer = await server.listen(port, host);
const address = httpServer.address();
process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);

function shutdown(): void {
  httpServer.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
