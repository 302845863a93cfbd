// Checks that one of the servers the integration tests use answers its own protocol on loopback:
//   node test/integration/servers.mjs redis|nats|mqtt
// Exit code 0 when it answers within 2 s, 1 otherwise (with the reason on stderr). Used by .ci/run.
// Hosts and ports follow the tests' variables (REDIS_HOST/PORT, NATS_HOST/PORT, MQTT_HOST/PORT).
import { connect } from 'node:net';

/** MQTT 3.1.1 CONNECT, clean session, keepalive 10 s, client id "connman-ci-check". */
const clientId = Buffer.from('connman-ci-check');
const mqttConnect = Buffer.concat([
  Buffer.from([0x10, 12 + clientId.length, 0x00, 0x04]),
  Buffer.from('MQTT'),
  Buffer.from([0x04, 0x02, 0x00, 0x0a, 0x00, clientId.length]),
  clientId,
]);

const servers = {
  redis: { port: 6379, hello: Buffer.from('PING\r\n'), answered: (data) => data.toString().startsWith('+PONG') },
  nats: { port: 4222, hello: undefined, answered: (data) => data.toString().startsWith('INFO ') },
  mqtt: { port: 1883, hello: mqttConnect, answered: (data) => data.length >= 4 && data[0] === 0x20 && data[3] === 0 },
};

const name = process.argv[2];
const server = servers[name];
if (server === undefined) {
  console.error(`usage: node test/integration/servers.mjs ${Object.keys(servers).join('|')}`);
  process.exit(2);
}
const prefix = name.toUpperCase();
const host = process.env[`${prefix}_HOST`] ?? '127.0.0.1';
const port = Number(process.env[`${prefix}_PORT`] ?? server.port);

const socket = connect(port, host);
let received = Buffer.alloc(0);
let finished = false;
const done = (ok, why) => {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  socket.destroy();
  if (!ok) console.error(`${name} on ${host}:${port}: ${why}`);
  process.exitCode = ok ? 0 : 1;
};
const timer = setTimeout(() => done(false, 'no answer within 2 s'), 2000);
socket.on('connect', () => {
  if (server.hello !== undefined) socket.write(server.hello);
});
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (server.answered(received)) done(true);
  else if (received.length >= 4096) done(false, `unexpected answer ${JSON.stringify(received.toString('latin1'))}`);
});
socket.on('error', (error) => done(false, error.message));
socket.on('close', () => done(server.answered(received), 'closed without the expected answer'));
