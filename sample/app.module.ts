import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { ConnmanModule, type ConnmanModuleOptions } from '../lib/index.js';
import { ConnmanHealthIndicator } from '../lib/health/index.js';
import { HealthController } from './health/health.controller.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { RedisController } from './redis/redis.controller.js';
import { redisTarget } from './redis/redis.config.js';
import { redisProtocol } from './redis/redis-client.js';
import { RedisService } from './redis/redis.service.js';
import { UpstreamController } from './upstream/upstream.controller.js';
import { EMBEDDED_REDIS, UpstreamModule, type ManagedEmbeddedRedis } from './upstream/upstream.module.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    UpstreamModule,
    ConnmanModule.forRootAsync({
      pools: ['redis'],
      imports: [UpstreamModule],
      inject: [ConfigService, EMBEDDED_REDIS],
      useFactory: (config: ConfigService, embedded: ManagedEmbeddedRedis | null): ConnmanModuleOptions => {
        const target = redisTarget(config, embedded?.server.port);
        return {
          waitForConnections: config.get('CONNMAN_WAIT') !== 'false',
          shutdownTimeoutMillis: 5000,
          pools: [
            {
              name: 'redis',
              ...target.endpoint,
              min: 2,
              max: 4,
              connectTimeoutMillis: 2000,
              openTimeoutMillis: 5000,
              backoff: { initialDelayMillis: 100, maxDelayMillis: 2000 },
              requestTimeoutMillis: Number(config.get('REDIS_COMMAND_TIMEOUT_MS') ?? 2000),
              ...redisProtocol({ ...target.auth, clientName: 'nestjs-connman-sample' }),
            },
          ],
        };
      },
    }),
    TerminusModule.forRoot({ logger: false }),
    MetricsModule,
  ],
  controllers: [RedisController, HealthController, UpstreamController],
  providers: [RedisService, ConnmanHealthIndicator],
})
export class AppModule {}
