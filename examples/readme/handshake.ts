// examples/readme/handshake.ts
import { Connman, lines, type ConnectionContext } from 'nestjs-connman';

const connman = new Connman();

// NATS speaks lines: the server greets with INFO and wants CONNECT before anything else.
const nats = connman.connect(
  { host: '127.0.0.1', port: Number(process.env.NATS_PORT ?? 4222) },
  {
    // Frames that answer no request: the server's pings, and messages of subscriptions.
    onData(line: Buffer, { connection }: ConnectionContext) {
      if (line.toString() === 'PING') connection.socket?.write('PONG\r\n');
      else console.log(`pushed: ${line.toString()}`);
    },
  },
  {
    framing: lines(),
    // Runs on every connect and reconnect; until it succeeds the connection is not ready.
    async handshake(_socket, context) {
      const info = (await context.read()).toString();
      if (!info.startsWith('INFO ')) throw new Error(`unexpected greeting: ${info}`);
      const pong = (await context.request('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')).toString();
      if (pong !== 'PONG') throw new Error(`CONNECT refused: ${pong}`);
    },
    // A server PING (or a MSG) is not the reply to our request: it goes to onData.
    isReply: (line) => !/^(PING|MSG|INFO)\b/.test(line.toString()),
    // An idle connection proves itself alive every 30 s; no PONG within 5 s resets it.
    heartbeat: { intervalMillis: 30_000, payload: 'PING\r\n', timeoutMillis: 5_000 },
  },
);

await nats.waitUntilConnected(); // resolves once the handshake succeeded
console.log((await nats.request('PING\r\n')).toString()); // PONG
await connman.disconnectAll();
