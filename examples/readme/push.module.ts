// examples/readme/push.module.ts
import { Injectable, Logger, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import {
  ConnmanModule,
  InjectPool,
  OnData,
  OnReset,
  type ConnectionContext,
  type ConnectionPool,
} from 'nestjs-connman';

@Injectable()
export class PushGateway {
  private readonly logger = new Logger(PushGateway.name);

  constructor(@InjectPool('push') private readonly pool: ConnectionPool) {}

  /** Writes one frame on a connection nobody else holds meanwhile. */
  send(frame: Buffer): Promise<void> {
    return this.pool.use((socket) => {
      socket.write(frame);
    });
  }

  /** Every chunk any connection of the pool reads (error frames, for APNs). */
  @OnData('push')
  onData(chunk: Buffer, { endpoint }: ConnectionContext): void {
    this.logger.warn(`${endpoint.host} answered ${chunk.length} byte(s)`);
  }

  /** A connection was lost; the returned function runs once when it is back. */
  @OnReset('push')
  onReset(error: Error): () => void {
    const lostAt = Date.now();
    this.logger.warn(`push connection lost: ${error.message}`);
    return () => this.logger.log(`push connection back after ${Date.now() - lostAt} ms`);
  }
}

@Module({
  imports: [
    ConfigModule.forRoot(),
    ConnmanModule.forRootAsync({
      pools: ['push'], // names known up front, so @InjectPool('push') resolves
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        pools: [
          {
            name: 'push',
            host: config.get('PUSH_HOST', '127.0.0.1'),
            port: Number(config.get('PUSH_PORT', 2195)),
            tls: config.get('PUSH_TLS') === 'true' ? {} : undefined, // verification stays on
            min: 2,
            max: 8,
          },
        ],
      }),
    }),
  ],
  providers: [PushGateway],
})
export class PushModule {}
