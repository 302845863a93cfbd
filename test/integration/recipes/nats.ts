// test/integration/recipes/nats.ts
import { Injectable, Logger, Module, type DynamicModule } from '@nestjs/common';
import {
  ConnmanModule,
  InjectPool,
  OnConnect,
  OnData,
  lines,
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
export const NATS_POOL = 'nats';

/** One message of the NATS client protocol, as the server sends it. */
export interface NatsFrame {
  /** The operation, upper case: INFO, MSG, PING, PONG, +OK or -ERR. */
  op: string;
  /** The rest of the control line: INFO's JSON, MSG's `subject sid [reply-to] size`, -ERR's text. */
  args: string;
  /** MSG's payload. */
  payload?: Buffer;
}

/**
 * NATS frames built on `lines()`: one frame per control line, and a MSG
 * together with the payload line that follows it, so that `isReply` never
 * sees a payload alone (a payload reading "PONG" must not answer a request).
 * Payloads are taken as one line: one that contains a line break fails the
 * connection with ERR_PROTOCOL (the announced size does not match) instead
 * of being cut in two.
 */
export function natsFraming(maxFrameBytes = 1024 * 1024): Framing<NatsFrame> {
  const lineFraming = lines({ maxFrameBytes });
  return (): FrameDecoder<NatsFrame> => {
    const decoder = lineFraming();
    let msg: { args: string; size: number } | undefined;
    return {
      decode(chunk) {
        const frames: NatsFrame[] = [];
        for (const line of decoder.decode(chunk)) {
          if (msg !== undefined) {
            if (line.length !== msg.size) {
              throw new Error(`MSG announced ${msg.size} payload bytes, its line has ${line.length}`);
            }
            frames.push({ op: 'MSG', args: msg.args, payload: line });
            msg = undefined;
            continue;
          }
          const text = line.toString();
          const space = text.indexOf(' ');
          const op = (space < 0 ? text : text.slice(0, space)).toUpperCase();
          const args = space < 0 ? '' : text.slice(space + 1).trim();
          if (op === 'MSG') msg = { args, size: Number(args.slice(args.lastIndexOf(' ') + 1)) };
          else frames.push({ op, args });
        }
        return frames;
      },
      reset() {
        decoder.reset?.();
        msg = undefined;
      },
    };
  };
}

/**
 * The NATS greeting: read the server's INFO, send CONNECT and a PING, and
 * wait for the PONG (the server has then processed CONNECT). An -ERR fails
 * the handshake (ERR_HANDSHAKE_FAILED), e.g. 'Authorization Violation'.
 */
export function natsHandshake(connect: Record<string, unknown> = {}): HandshakeFunction<NatsFrame> {
  const options = JSON.stringify({ verbose: false, pedantic: false, lang: 'node', protocol: 1, ...connect });
  return async (socket, context) => {
    const info = await context.read();
    if (info.op !== 'INFO') throw new Error(`expected INFO from the server, got ${info.op}`);
    serverInfo.set(socket, JSON.parse(info.args) as NatsInfo);
    let frame = await context.request(`CONNECT ${options}\r\nPING\r\n`);
    while (frame.op !== 'PONG') {
      if (frame.op === '-ERR') throw new Error(`the server refused CONNECT: ${frame.args}`);
      if (frame.op === 'PING') socket.write('PONG\r\n');
      frame = await context.read();
    }
  };
}

/** What the server says about itself and this client in INFO. */
export interface NatsInfo {
  server_id: string;
  client_id: number;
  max_payload: number;
  [key: string]: unknown;
}

/** The INFO of each socket's handshake. */
const serverInfo = new WeakMap<ConnmanSocket, NatsInfo>();

/** The INFO the server sent when `socket` connected. */
export function natsServerInfo(socket: ConnmanSocket | undefined): NatsInfo | undefined {
  return socket === undefined ? undefined : serverInfo.get(socket);
}

/**
 * With verbose false, PONG is the only frame that answers something the
 * client wrote: server PINGs, MSGs, INFO updates and -ERR go to `@OnData`.
 */
export function isNatsReply(frame: NatsFrame): boolean {
  return frame.op === 'PONG';
}

/** Pool options for one NATS server: one connection carries everything, as in NATS clients. */
export function natsPoolOptions(
  endpoint: TcpEndpoint,
  options: Partial<PoolOptions<NatsFrame>> = {},
): PoolOptions<NatsFrame> {
  return {
    name: NATS_POOL,
    ...endpoint,
    min: 1,
    max: 1,
    framing: natsFraming(),
    handshake: natsHandshake(),
    isReply: isNatsReply,
    ...options,
  };
}

/** A subscription: its subject, and what to do with each message. */
interface Subscription {
  subject: string;
  onMessage: (payload: Buffer, subject: string) => void;
}

/**
 * Answers the server's PINGs (the server drops a client that does not),
 * delivers MSGs to subscriptions, and subscribes again after a reconnect.
 */
@Injectable()
export class NatsClient {
  private readonly logger = new Logger(NatsClient.name);
  private readonly subscriptions = new Map<string, Subscription>();
  private lastSid = 0;
  /** Server PINGs answered since the start. */
  pingsAnswered = 0;

  constructor(@InjectPool(NATS_POOL) private readonly pool: ConnectionPool<NatsFrame>) {}

  @OnData(NATS_POOL)
  onFrame(frame: NatsFrame, { connection }: ConnectionContext<NatsFrame>): void {
    switch (frame.op) {
      case 'PING':
        connection.socket?.write('PONG\r\n');
        this.pingsAnswered++;
        break;
      case 'MSG': {
        const [subject, sid] = frame.args.split(' ');
        if (subject !== undefined && sid !== undefined) this.subscriptions.get(sid)?.onMessage(frame.payload!, subject);
        break;
      }
      case '-ERR':
        this.logger.warn(`NATS server error: ${frame.args}`);
        break;
    }
  }

  /** A new connection knows no subscription: send them all again. */
  @OnConnect(NATS_POOL)
  onConnect(socket: ConnmanSocket): void {
    for (const [sid, { subject }] of this.subscriptions) socket.write(`SUB ${subject} ${sid}\r\n`);
  }

  /** Subscribes; resolves once the server has the subscription (its PONG). Returns the unsubscriber. */
  async subscribe(subject: string, onMessage: Subscription['onMessage']): Promise<() => Promise<void>> {
    const sid = String(++this.lastSid);
    this.subscriptions.set(sid, { subject, onMessage });
    await this.pool.request(`SUB ${subject} ${sid}\r\nPING\r\n`);
    return async () => {
      this.subscriptions.delete(sid);
      await this.pool.request(`UNSUB ${sid}\r\nPING\r\n`);
    };
  }

  /** Publishes a one-line payload; resolves once the server has processed it (its PONG). */
  async publish(subject: string, payload: string): Promise<void> {
    await this.pool.request(`PUB ${subject} ${Buffer.byteLength(payload)}\r\n${payload}\r\nPING\r\n`);
  }
}

/**
 * The pool and its client, in one module: import `NatsModule.register(...)`
 * and inject `NatsClient` (or the pool, with `@InjectPool(NATS_POOL)`).
 */
@Module({})
export class NatsModule {
  static register(endpoint: TcpEndpoint, options: Partial<PoolOptions<NatsFrame>> = {}): DynamicModule {
    const pool = natsPoolOptions(endpoint, options);
    const poolModule = ConnmanModule.registerPool(pool);
    return {
      module: NatsModule,
      imports: [poolModule],
      providers: [NatsClient],
      exports: [NatsClient, poolModule],
    };
  }
}
