// examples/readme/redis.module.ts
import { Injectable, Logger, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import {
  ConnmanModule,
  InjectPool,
  OnConnect,
  OnData,
  OnReset,
  lines,
  type ConnectionContext,
  type ConnectionPool,
  type ConnmanSocket,
} from 'nestjs-connman';

/** Redis's inline commands: one line out and, for PING, INCR, SET..., one line back. */
@Injectable()
export class CounterService {
  private readonly logger = new Logger(CounterService.name);

  constructor(@InjectPool('redis') private readonly redis: ConnectionPool) {}

  async increment(key: string): Promise<number> {
    const reply = (await this.redis.request(`INCR ${key}\r\n`)).toString(); // ":42"
    if (reply.startsWith('-')) throw new Error(`Redis refused: ${reply.slice(1)}`);
    return Number(reply.slice(1));
  }

  @OnConnect('redis')
  connected(_socket: ConnmanSocket, { endpoint }: ConnectionContext): void {
    this.logger.log(`connected to ${endpoint.host}:${endpoint.port}`);
  }

  /** Frames that answer no request (pushes): none are expected here. */
  @OnData('redis')
  unexpected(frame: Buffer): void {
    this.logger.warn(`unexpected frame: ${frame.toString()}`);
  }

  /** A connection was lost (its requests in flight already failed with ERR_CONNECTION_CLOSED). */
  @OnReset('redis')
  lost(error: Error): () => void {
    const lostAt = Date.now();
    this.logger.warn(`redis connection lost: ${error.message}`);
    return () => this.logger.log(`redis connection back after ${Date.now() - lostAt} ms`);
  }
}

@Module({
  imports: [
    ConfigModule.forRoot(),
    ConnmanModule.forRootAsync({
      pools: ['redis'], // names known up front, so @InjectPool('redis') resolves
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        const password = config.get<string>('REDIS_PASSWORD');
        return {
          pools: [
            {
              name: 'redis',
              host: config.get<string>('REDIS_HOST', '127.0.0.1'),
              port: Number(config.get('REDIS_PORT', 6379)),
              min: 2,
              max: 8,
              framing: lines(),
              requestTimeoutMillis: 2000,
              // A connection counts as ready (lent, counted, healthy) only once this succeeds.
              handshake: async (_socket, context) => {
                if (password === undefined) return;
                const reply = (await context.request(`AUTH ${password}\r\n`)).toString();
                if (reply !== '+OK') throw new Error('AUTH refused');
              },
              // NATs and firewalls drop idle connections silently: ping those idle for 30 s.
              heartbeat: { intervalMillis: 30_000, payload: 'PING\r\n', timeoutMillis: 5000 },
            },
          ],
        };
      },
    }),
  ],
  providers: [CounterService],
  exports: [CounterService],
})
export class CounterModule {}
