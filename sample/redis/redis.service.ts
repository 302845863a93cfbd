import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  ConnmanError,
  InjectPool,
  OnConnect,
  OnData,
  OnReset,
  type ConnectionContext,
  type ConnectionPool,
  type ConnmanSocket,
  type PersistentConnection,
} from '../../lib/index.js';
import { RespError, RespParser, encodeCommand, type RespReply } from './resp.js';

/** Settings of the sample's Redis client. */
export const REDIS_CLIENT_SETTINGS = Symbol('REDIS_CLIENT_SETTINGS');
export interface RedisClientSettings {
  password: string | undefined;
  commandTimeoutMillis: number;
}

interface Pending {
  resolve: (reply: RespReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

/** What the client keeps per connection: its parser and its requests waiting for replies, in order. */
class ConnectionState {
  readonly parser = new RespParser();
  pending: Pending[] = [];
  lostAt = 0;
}

/**
 * A pipelined Redis client over the pool's shared connections: commands go
 * out on `pick()`ed connections; replies come back through `@OnData` and are
 * matched in order. On `@OnReset`, the requests that will never get a reply
 * fail at once, and a resume function (instead of `@OnConnect`) greets the
 * connection when it is back.
 */
@Injectable()
export class RedisService {
  private readonly logger = new Logger('Redis');
  private readonly states = new WeakMap<PersistentConnection, ConnectionState>();
  resets = 0;

  constructor(
    @InjectPool('redis') readonly pool: ConnectionPool,
    @Inject(REDIS_CLIENT_SETTINGS) private readonly settings: RedisClientSettings,
  ) {}

  /** Sends one command; rejects with ERR_NO_CONNECTION at once while Redis is unreachable. */
  command(...args: string[]): Promise<RespReply> {
    const connection = this.pool.pick();
    return this.send(connection.socket!, this.stateOf(connection), args);
  }

  @OnConnect('redis')
  connected(socket: ConnmanSocket, context: ConnectionContext): void {
    this.logger.log(`connected to ${context.endpoint.host}:${context.endpoint.port}`);
    this.greet(socket, context);
  }

  @OnData('redis')
  data(chunk: Buffer, { connection }: ConnectionContext): void {
    const state = this.stateOf(connection);
    for (const reply of state.parser.push(chunk)) {
      const pending = state.pending.shift();
      if (pending === undefined) {
        this.logger.warn('a reply arrived that no request was waiting for');
        continue;
      }
      if (pending.settled) continue; // its caller timed out; the reply is dropped, in order
      pending.settled = true;
      clearTimeout(pending.timer);
      if (reply instanceof RespError) pending.reject(reply);
      else pending.resolve(reply);
    }
  }

  @OnReset('redis')
  reset(
    error: Error,
    { connection, endpoint }: ConnectionContext,
  ): (socket: ConnmanSocket, context: ConnectionContext) => void {
    this.resets++;
    const state = this.stateOf(connection);
    state.parser.reset();
    state.lostAt = Date.now();
    const lost = state.pending;
    state.pending = [];
    for (const pending of lost)
      this.fail(
        pending,
        new ConnmanError('ERR_CONNECTION_CLOSED', `Redis connection lost: ${error.message}`, {
          pool: 'redis',
          cause: error,
        }),
      );
    this.logger.warn(
      `lost ${endpoint.host}:${endpoint.port} (${error.message}); ${lost.length} request(s) failed; reconnecting`,
    );
    // connman's rule: this runs once when the connection is back, instead of @OnConnect.
    return (socket, context) => {
      this.logger.log(
        `back on ${context.endpoint.host}:${context.endpoint.port} after ${Date.now() - state.lostAt} ms`,
      );
      this.greet(socket, context);
    };
  }

  private greet(socket: ConnmanSocket, context: ConnectionContext): void {
    if (this.settings.password === undefined) return;
    this.send(socket, this.stateOf(context.connection), ['AUTH', this.settings.password]).catch((error: Error) =>
      this.logger.error(`AUTH failed: ${error.message}`),
    );
  }

  private send(socket: ConnmanSocket, state: ConnectionState, args: string[]): Promise<RespReply> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, timer: undefined, settled: false };
      pending.timer = setTimeout(() => {
        this.fail(
          pending,
          new Error(`Redis did not answer ${args[0]} within ${this.settings.commandTimeoutMillis} ms`),
        );
      }, this.settings.commandTimeoutMillis);
      state.pending.push(pending);
      socket.write(encodeCommand(args));
    });
  }

  private fail(pending: Pending, error: Error): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  private stateOf(connection: PersistentConnection): ConnectionState {
    let state = this.states.get(connection);
    if (state === undefined) {
      state = new ConnectionState();
      this.states.set(connection, state);
    }
    return state;
  }
}
