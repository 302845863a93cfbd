import { Injectable, Logger } from '@nestjs/common';
import {
  InjectPool,
  OnConnect,
  OnData,
  OnReset,
  type ConnectionContext,
  type ConnectionPool,
} from '../../lib/index.js';
import { RedisClient } from './redis-client.js';
import type { RespValue } from './resp.js';

/**
 * The sample's Redis client in Nest: the pool speaks Redis through the
 * options of `redisProtocol()` (RESP framing, AUTH and CLIENT SETNAME in the
 * handshake, pushes apart), so commands are plain `pool.request()` calls, and
 * the library fails the unanswered ones when a connection is lost. What is
 * left here is what the app decides: fail fast while Redis is unreachable,
 * and say what happens in the log.
 */
@Injectable()
export class RedisService {
  private readonly logger = new Logger('Redis');
  private readonly client: RedisClient;
  /** Connections lost so far (shown by GET /stats). */
  resets = 0;

  constructor(@InjectPool('redis') readonly pool: ConnectionPool<RespValue>) {
    this.client = new RedisClient(pool);
  }

  /**
   * Sends one command. While no connection is ready it rejects at once with
   * ERR_NO_CONNECTION (`pick()` finds none), instead of waiting out the
   * request timeout: the HTTP caller gets its 503 now.
   */
  async command(...args: string[]): Promise<RespValue> {
    this.pool.pick();
    return this.client.command(...args);
  }

  @OnConnect('redis')
  connected(_socket: unknown, { endpoint }: ConnectionContext): void {
    this.logger.log(`connected to ${endpoint.host}:${endpoint.port}`);
  }

  /** Only what is not a reply comes here: RESP3 push frames. */
  @OnData('redis')
  pushed(frame: RespValue, { endpoint }: ConnectionContext): void {
    this.logger.log(`push from ${endpoint.host}:${endpoint.port}: ${JSON.stringify(frame)}`);
  }

  @OnReset('redis')
  reset(error: Error, { endpoint }: ConnectionContext): () => void {
    this.resets++;
    const lostAt = Date.now();
    this.logger.warn(
      `lost ${endpoint.host}:${endpoint.port} (${error.message}); its unanswered commands failed with ERR_CONNECTION_CLOSED; reconnecting`,
    );
    // connman's rule: this runs once when the connection is back (its handshake done), instead of @OnConnect.
    return () => this.logger.log(`back on ${endpoint.host}:${endpoint.port} after ${Date.now() - lostAt} ms`);
  }
}
