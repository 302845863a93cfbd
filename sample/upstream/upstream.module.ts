import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EmbeddedRedis } from './embedded-redis.js';

/** The embedded upstream, or `null` when REDIS_URL points at a real Redis. */
export const EMBEDDED_REDIS = Symbol('EMBEDDED_REDIS');

/** An embedded RESP server that shuts down with the app. */
class ManagedEmbeddedRedis {
  constructor(readonly server: EmbeddedRedis) {}
  onApplicationShutdown(): Promise<void> {
    return this.server.stop();
  }
}

@Module({
  providers: [
    {
      provide: EMBEDDED_REDIS,
      inject: [ConfigService],
      // Resolves once it listens, so that the pool options can use its port.
      useFactory: async (config: ConfigService) =>
        config.get('REDIS_URL')
          ? null
          : new ManagedEmbeddedRedis(await EmbeddedRedis.start('127.0.0.1', Number(config.get('UPSTREAM_PORT') ?? 0))),
    },
  ],
  exports: [EMBEDDED_REDIS],
})
export class UpstreamModule {}

export type { ManagedEmbeddedRedis };
