// test/integration/recipes/mqtt.ts
import { Injectable, Logger, Module, type DynamicModule } from '@nestjs/common';
import mqtt, { type IPublishPacket, type Packet } from 'mqtt-packet';
import {
  ConnmanModule,
  InjectPool,
  OnConnect,
  OnData,
  type ConnectionContext,
  type ConnectionPool,
  type ConnmanSocket,
  type FrameDecoder,
  type Framing,
  type HandshakeFunction,
  type PoolOptions,
  type TcpEndpoint,
} from 'nestjs-connman';

/** The pool's name, for `@InjectPool` and the handlers. */
export const MQTT_POOL = 'mqtt';

/**
 * MQTT 3.1.1 frames: whole control packets, parsed by `mqtt-packet`. A
 * malformed packet, or a packet that grows past `maxPacketBytes` while it is
 * buffered, fails the connection with ERR_PROTOCOL.
 */
export function mqttFraming(maxPacketBytes = 1024 * 1024): Framing<Packet> {
  return (): FrameDecoder<Packet> => {
    const parser = mqtt.parser({ protocolVersion: 4 });
    let packets: Packet[] = [];
    let failure: Error | undefined;
    parser.on('packet', (packet: Packet) => packets.push(packet));
    parser.on('error', (error: Error) => (failure ??= error));
    return {
      decode(chunk) {
        const buffered = parser.parse(chunk);
        if (failure !== undefined) throw failure;
        if (buffered > maxPacketBytes) throw new Error(`an MQTT packet over ${maxPacketBytes} bytes`);
        const complete = packets;
        packets = [];
        return complete;
      },
    };
  };
}

/** What CONNECT says. */
export interface MqttConnectOptions {
  /** The client identifier (unique per connection: the broker drops the older of two alike). */
  clientId: string;
  /** The keepalive the broker enforces, in seconds: it drops a client silent for 1.5 times this. */
  keepaliveSeconds: number;
  /** Start with no session (no subscriptions, no queued messages). Default true. */
  clean?: boolean;
  username?: string;
  password?: Buffer;
}

const CONNACK_CODES = [
  'accepted',
  'unacceptable protocol version',
  'identifier rejected',
  'server unavailable',
  'bad user name or password',
  'not authorized',
];

/** CONNECT, then CONNACK: a non-zero return code fails the handshake (ERR_HANDSHAKE_FAILED). */
export function mqttHandshake(options: MqttConnectOptions): HandshakeFunction<Packet> {
  const { clientId, keepaliveSeconds, clean = true, username, password } = options;
  const connect = mqtt.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean,
    clientId,
    keepalive: keepaliveSeconds,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  });
  return async (_socket, context) => {
    const connack = await context.request(connect);
    if (connack.cmd !== 'connack') throw new Error(`expected CONNACK from the broker, got ${connack.cmd}`);
    const code = connack.returnCode ?? 0;
    if (code !== 0) {
      throw new Error(`the broker refused CONNECT: return code ${code} (${CONNACK_CODES[code] ?? 'unknown'})`);
    }
  };
}

/** PINGREQ, sent as the heartbeat: the broker answers PINGRESP, which the heartbeat consumes. */
export const PINGREQ = mqtt.generate({ cmd: 'pingreq' });

/**
 * Every packet the broker sends answers one of ours (CONNACK, SUBACK,
 * UNSUBACK, PUBACK, PINGRESP), in order, except PUBLISH: those go to
 * `@OnData`.
 */
export function isMqttReply(packet: Packet): boolean {
  return packet.cmd !== 'publish';
}

/**
 * Pool options for one MQTT broker and one client identifier (so one
 * connection). The heartbeat sends PINGREQ after half the keepalive with
 * nothing written (the broker's keepalive counts only what the client sends,
 * so incoming PUBLISH packets do not count: `idle: 'write'`), and gives
 * PINGRESP the other half.
 */
export function mqttPoolOptions(
  endpoint: TcpEndpoint,
  connect: MqttConnectOptions,
  options: Partial<PoolOptions<Packet>> = {},
): PoolOptions<Packet> {
  const half = (connect.keepaliveSeconds * 1000) / 2;
  return {
    name: MQTT_POOL,
    ...endpoint,
    min: 1,
    max: 1,
    framing: mqttFraming(),
    handshake: mqttHandshake(connect),
    isReply: isMqttReply,
    heartbeat: { intervalMillis: half, payload: PINGREQ, timeoutMillis: half, idle: 'write' },
    ...options,
  };
}

/** Packet identifiers for SUBSCRIBE, UNSUBSCRIBE and QoS 1 PUBLISH: 1 to 65535, then again. */
let lastPacketId = 0;
function packetId(): number {
  lastPacketId = (lastPacketId % 65535) + 1;
  return lastPacketId;
}

function subscribePacket(topic: string): Buffer {
  return mqtt.generate({ cmd: 'subscribe', messageId: packetId(), subscriptions: [{ topic, qos: 0 }] });
}

function checkSuback(packet: Packet, topic: string): void {
  if (packet.cmd !== 'suback' || packet.granted[0] === 0x80) {
    throw new Error(`the broker refused the subscription to ${topic}`);
  }
}

/**
 * Delivers PUBLISH packets to subscriptions (QoS 0, exact topics), and
 * subscribes again after a reconnect (a clean session starts with none).
 */
@Injectable()
export class MqttClient {
  private readonly logger = new Logger(MqttClient.name);
  private readonly subscriptions = new Map<string, (packet: IPublishPacket) => void>();

  constructor(@InjectPool(MQTT_POOL) private readonly pool: ConnectionPool<Packet>) {}

  @OnData(MQTT_POOL)
  onPacket(packet: Packet): void {
    if (packet.cmd !== 'publish') return;
    this.subscriptions.get(packet.topic)?.(packet);
  }

  /**
   * Subscribes again on a new connection. Through `request()`, not a bare
   * write: SUBACK is a reply, and must answer this SUBSCRIBE, in order.
   */
  @OnConnect(MQTT_POOL)
  onConnect(_socket: ConnmanSocket, { connection }: ConnectionContext<Packet>): void {
    for (const topic of this.subscriptions.keys()) {
      connection.request(subscribePacket(topic)).then(
        (suback) => checkSuback(suback, topic),
        (error: Error) => this.logger.warn(`subscribing again to ${topic} failed: ${error.message}`),
      );
    }
  }

  /** Subscribes at QoS 0; resolves once the broker granted it (SUBACK). Returns the unsubscriber. */
  async subscribe(topic: string, onMessage: (packet: IPublishPacket) => void): Promise<() => Promise<void>> {
    this.subscriptions.set(topic, onMessage);
    checkSuback(await this.pool.request(subscribePacket(topic)), topic);
    return async () => {
      this.subscriptions.delete(topic);
      await this.pool.request(mqtt.generate({ cmd: 'unsubscribe', messageId: packetId(), unsubscriptions: [topic] }));
    };
  }

  /** Publishes at QoS 1; resolves once the broker has it (PUBACK). */
  publish(topic: string, payload: string | Buffer): Promise<void> {
    return mqttPublish(this.pool, topic, payload);
  }
}

/** Publishes at QoS 1 through any pool of this recipe; resolves once the broker has it (PUBACK). */
export async function mqttPublish(
  pool: ConnectionPool<Packet>,
  topic: string,
  payload: string | Buffer,
): Promise<void> {
  const puback = await pool.request(
    mqtt.generate({ cmd: 'publish', topic, payload, qos: 1, dup: false, retain: false, messageId: packetId() }),
  );
  if (puback.cmd !== 'puback') throw new Error(`expected PUBACK from the broker, got ${puback.cmd}`);
}

/**
 * The pool and its client, in one module: import `MqttModule.register(...)`
 * and inject `MqttClient` (or the pool, with `@InjectPool(MQTT_POOL)`).
 */
@Module({})
export class MqttModule {
  static register(
    endpoint: TcpEndpoint,
    connect: MqttConnectOptions,
    options: Partial<PoolOptions<Packet>> = {},
  ): DynamicModule {
    const poolModule = ConnmanModule.registerPool(mqttPoolOptions(endpoint, connect, options));
    return {
      module: MqttModule,
      imports: [poolModule],
      providers: [MqttClient],
      exports: [MqttClient, poolModule],
    };
  }
}
