import { describe, expect, it } from '@jest/globals';
import mqtt, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import {
  ConnectionPool,
  Connman,
  ConnmanModule,
  isConnmanError,
  type AnyFrame,
  type HandshakeFunction,
  type PoolOptions,
  type TcpEndpoint,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { useScope, type TestScope } from '../helpers/resources.js';
import { startApp, uniqueName } from './nest-app.js';
import { startMosquitto } from './server-process.js';
import {
  MQTT_POOL,
  MqttClient,
  MqttModule,
  PINGREQ,
  mqttHandshake,
  mqttPoolOptions,
  mqttPublish,
  type MqttConnectOptions,
} from './recipes/mqtt.js';

const MQTT: TcpEndpoint = { host: process.env.MQTT_HOST ?? '127.0.0.1', port: Number(process.env.MQTT_PORT ?? 1883) };
const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 200 } };
/** A keepalive of 1 s: Mosquitto drops a client it has heard nothing from for 1.5 s. */
const KEEPALIVE_SECONDS = 1;
const PINGRESP = mqtt.generate({ cmd: 'pingresp' });

function connectOptions(prefix: string, more: Partial<MqttConnectOptions> = {}): MqttConnectOptions {
  return { clientId: uniqueName(prefix), keepaliveSeconds: KEEPALIVE_SECONDS, ...more };
}

/** A line of a mosquitto password file (mosquitto 2's format: PBKDF2-SHA512, 101 rounds). */
function passwordLine(user: string, password: string): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
  return `${user}:$7$101$${salt.toString('base64')}$${hash.toString('base64')}\n`;
}

/** A Nest app with the recipe's module (or, `withClient` false, its pool alone). */
async function mqttApp(
  scope: TestScope,
  endpoint: TcpEndpoint,
  connect: MqttConnectOptions,
  options: Partial<PoolOptions<Packet>> = quick,
  withClient = true,
) {
  const imports = withClient
    ? [MqttModule.register(endpoint, connect, options)]
    : [ConnmanModule.forRoot({ pools: [mqttPoolOptions(endpoint, connect, options) as PoolOptions<AnyFrame>] })];
  const { app, logger } = await startApp(scope, { imports });
  const pool = app.get(Connman).getPool<Packet>(MQTT_POOL);
  return { app, logger, pool, client: withClient ? app.get(MqttClient) : undefined };
}

/** A second client, framework-free: the recipe's options on a core pool. */
async function publisher(scope: TestScope, endpoint: TcpEndpoint = MQTT): Promise<ConnectionPool<Packet>> {
  const pool = new ConnectionPool(
    mqttPoolOptions(endpoint, connectOptions('connman-publisher'), { name: 'mqtt-publisher', ...quick }),
  );
  scope.defer(() => pool.close());
  await pool.open();
  return pool;
}

/** Resolves with the next `count` messages delivered to a new subscription on `topic`. */
async function collect(client: MqttClient, topic: string, count: number) {
  const received: IPublishPacket[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const unsubscribe = await client.subscribe(topic, (packet) => {
    received.push(packet);
    if (received.length === count) done();
  });
  return { received, all, unsubscribe };
}

/** Publishes on `topic` every 200 ms (after each PUBACK) until the returned function is called. */
function stream(scope: TestScope, pool: ConnectionPool<Packet>, topic: string): () => void {
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  let stopped = false;
  const publishNext = (): void => {
    timer = setTimeout(() => {
      void mqttPublish(pool, topic, `tick ${sent++}`).then(
        () => {
          if (!stopped) publishNext();
        },
        () => undefined,
      );
    }, 200);
  };
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
  };
  scope.defer(stop);
  publishNext();
  return stop;
}

/** Counts the PINGRESP packets a connection reads (they never reach onData: the heartbeat consumes them). */
function countPingresps(pool: ConnectionPool<Packet>): { readonly count: number } {
  const counter = { count: 0 };
  pool.connections[0].on('data', (chunk: Buffer) => {
    for (let at = chunk.indexOf(PINGRESP); at >= 0; at = chunk.indexOf(PINGRESP, at + 2)) counter.count++;
  });
  return counter;
}

/** A bare MQTT client that connects with `clientId` (taking the session over) and waits for CONNACK. */
async function takeOver(scope: TestScope, clientId: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = netConnect(MQTT.port, MQTT.host);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  scope.defer(async () => {
    socket.destroy();
    await closed;
  });
  socket.on('error', () => undefined);
  const parser = mqtt.parser({ protocolVersion: 4 });
  const connack = new Promise<Packet>((resolve) => parser.once('packet', resolve));
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.write(
    mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 10 }),
  );
  expect(await connack).toMatchObject({ cmd: 'connack', returnCode: 0 });
  return { socket, closed };
}

describe(`MQTT: the recipe against the machine's Mosquitto (${MQTT.host}:${MQTT.port})`, () => {
  const scope = useScope();

  it('stays connected across 8 keepalive periods: the heartbeat sends PINGREQ and consumes each PINGRESP', async () => {
    const { pool } = await mqttApp(scope, MQTT, connectOptions('connman-keepalive'), quick, false);
    const resets: Error[] = [];
    pool.on('reset', (error) => resets.push(error));
    const connection = pool.connections[0];
    const delivered: Packet[] = [];
    connection.on('frame', (packet) => delivered.push(packet));
    const pingresps = countPingresps(pool);
    const started = Date.now();

    // The heartbeat fires after 500 ms of silence: 16 of them span 8 keepalive periods, longer
    // than Mosquitto takes to drop a silent client (under 6 s seen: the test below).
    await until(connection, 'data', () => pingresps.count >= 16);

    expect(Date.now() - started).toBeGreaterThanOrEqual(8 * KEEPALIVE_SECONDS * 1000 - 100);
    expect(resets).toEqual([]);
    expect(connection.attempts).toBe(1);
    expect(delivered).toEqual([]); // no PINGRESP reached onData
    expect(pool.stats()).toMatchObject({ connected: 1, pendingRequests: 0 });
  });

  it('keeps a subscriber that only receives (a PUBLISH every 200 ms) connected across 8 keepalive periods', async () => {
    const { pool, client } = await mqttApp(scope, MQTT, connectOptions('connman-receiver'));
    const other = await publisher(scope);
    const topic = `connman/test/${uniqueName('stream')}`;
    const messages = await collect(client!, topic, 40);
    const reset = next<[Error]>(pool, 'reset').then(([error]) => error);
    const stopStream = stream(scope, other, topic);

    const outcome = await Promise.race([messages.all.then(() => 'received all'), reset]);

    stopStream();
    expect(outcome).toBe('received all');
    expect(pool.connections[0].attempts).toBe(1);
    await messages.unsubscribe();
  });

  it('keeps a receive-only connection alive with the heartbeat alone (idle: write)', async () => {
    const { pool } = await mqttApp(scope, MQTT, connectOptions('connman-heartbeat-only'), quick, false);
    const other = await publisher(scope);
    const topic = `connman/test/${uniqueName('heartbeat-only')}`;
    const suback = await pool.request(
      mqtt.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }),
    );
    expect(suback.cmd).toBe('suback');
    const connection = pool.connections[0];
    let received = 0;
    connection.on('frame', () => received++);
    const all = until(connection, 'frame', () => received >= 50).then(() => 'received all');
    const reset = next<[Error]>(pool, 'reset').then(([error]) => error);
    const stopStream = stream(scope, other, topic);

    // Mosquitto 2.0 checks keepalives lazily: seen dropping a silent client 1.2 to 5.8 s after
    // its last packet (keepalive 1 s); 50 messages take 10 s.
    const outcome = await Promise.race([all, reset]);

    stopStream();
    expect(outcome).toBe('received all');
  });

  it('is dropped by Mosquitto after 1.5 keepalive periods without the heartbeat: the test above can fail', async () => {
    const { pool } = await mqttApp(
      scope,
      MQTT,
      connectOptions('connman-no-heartbeat'),
      { ...quick, heartbeat: undefined },
      false,
    );
    const started = Date.now();
    const [error] = await next<[Error]>(pool, 'reset');
    expect(Date.now() - started).toBeGreaterThanOrEqual(KEEPALIVE_SECONDS * 1000);
    expect(error).toBeInstanceOf(Error);
  });

  it('fails the handshake with ERR_HANDSHAKE_FAILED on a CONNACK refusal (5), and connects with the password, which no error shows', async () => {
    const password = `s3cret-${randomUUID()}`;
    const broker = await startMosquitto('allow_anonymous false\npassword_file {dir}/passwd', {
      passwd: passwordLine('alice', password),
    });
    scope.defer(() => broker.stop());
    const refused = new ConnectionPool(
      mqttPoolOptions(broker.endpoint, connectOptions('connman-anonymous'), { name: 'mqtt-refused', ...quick }),
    );
    scope.defer(() => refused.close());
    void refused.open({ wait: false });
    const [error] = await next<[Error]>(refused, 'createError');
    expect(isConnmanError(error, 'ERR_HANDSHAKE_FAILED')).toBe(true);
    expect(error.message).toContain('return code 5 (not authorized)');
    expect(refused.stats()).toMatchObject({ connected: 0 });

    const credentials = { username: 'alice', password: Buffer.from(password) };
    const { pool } = await mqttApp(scope, broker.endpoint, connectOptions('connman-alice', credentials), quick, false);
    expect(pool.stats()).toMatchObject({ connected: 1 });
    expect((await pool.request(PINGREQ)).cmd).toBe('pingresp');
    expect(`${error.message} ${String(error.cause)}`).not.toContain(password);
  });

  it('delivers PUBLISH packets from a second connection to @OnData (never as replies), and none after UNSUBSCRIBE', async () => {
    const { pool, client } = await mqttApp(scope, MQTT, connectOptions('connman-subscriber'));
    const other = await publisher(scope);
    const topic = `connman/test/${uniqueName('pubsub')}`;
    const payloads = Array.from({ length: 20 }, (_, i) => `message ${i} ${randomUUID()}`);
    const messages = await collect(client!, topic, payloads.length);

    // PINGREQ requests on the subscriber's connection while the PUBLISH packets arrive on it:
    // PINGRESP answers them, PUBLISH goes to @OnData.
    const [, replies] = await Promise.all([
      Promise.all(payloads.map((payload) => mqttPublish(other, topic, payload))),
      Promise.all(payloads.map(() => pool.request(PINGREQ))),
    ]);
    await messages.all;

    expect(replies.every((packet) => packet.cmd === 'pingresp')).toBe(true);
    expect(messages.received.map((packet) => [packet.topic, packet.payload.toString()])).toEqual(
      payloads.map((payload) => [topic, payload]),
    );

    await messages.unsubscribe();
    await mqttPublish(other, topic, 'after UNSUBSCRIBE');
    // The broker routed that PUBLISH before its PUBACK; one for the subscriber would come before this PINGRESP.
    expect((await pool.request(PINGREQ)).cmd).toBe('pingresp');
    expect(messages.received).toHaveLength(payloads.length);
  });

  it('reconnects after Mosquitto drops it for a client with the same id: the handshake runs again, subscriptions come back', async () => {
    const connect = connectOptions('connman-takeover');
    const handshake = mqttHandshake(connect);
    let handshakes = 0;
    const counted: HandshakeFunction<Packet> = (socket, context) => {
      handshakes++;
      return handshake(socket, context);
    };
    const { pool, client } = await mqttApp(scope, MQTT, connect, { ...quick, handshake: counted });
    const other = await publisher(scope);
    const topic = `connman/test/${uniqueName('takeover')}`;
    const messages = await collect(client!, topic, 1);
    expect(handshakes).toBe(1);

    const reset = next<[Error]>(pool, 'reset');
    const intruder = await takeOver(scope, connect.clientId);
    await reset;
    await until(pool, 'reconnect', () => pool.stats().connected === 1);
    // Our CONNECT took the id back: the broker dropped the intruder.
    await intruder.closed;

    expect(handshakes).toBe(2);
    // @OnConnect subscribed again (a request): once its SUBACK is in, the broker has the subscription.
    const connection = pool.connections[0];
    await until(connection, 'data', () => connection.pendingRequests === 0);
    await mqttPublish(other, topic, 'after the takeover');
    await messages.all;
    expect(messages.received.map((packet) => packet.payload.toString())).toEqual(['after the takeover']);
    await messages.unsubscribe();
  });

  it('resets a connection whose PINGRESP stops coming (ERR_HEARTBEAT_TIMEOUT) and reconnects through the same proxy', async () => {
    const proxy = await FaultProxy.start(MQTT);
    scope.defer(() => proxy.close());
    const { pool } = await mqttApp(scope, proxy.endpoint, connectOptions('connman-stall'), quick, false);

    proxy.downstream.stalled = true;
    const started = Date.now();
    const [error] = await next<[Error]>(pool, 'reset');
    proxy.downstream.stalled = false;

    expect(isConnmanError(error, 'ERR_HEARTBEAT_TIMEOUT')).toBe(true);
    // Detected within the heartbeat's interval plus its timeout (500 + 500 ms), with a margin.
    expect(Date.now() - started).toBeLessThan(KEEPALIVE_SECONDS * 1000 + 1000);
    await until(pool, 'reconnect', () => pool.stats().connected === 1);
    expect((await pool.request(PINGREQ)).cmd).toBe('pingresp');
  });
});
