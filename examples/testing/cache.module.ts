// examples/testing/cache.module.ts
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ConnmanModule } from 'nestjs-connman';
import { CacheStatus } from './cache-status.service.js';

/** The application's module: its pool's address comes from the configuration. */
@Module({
  imports: [
    ConfigModule.forRoot(),
    ConnmanModule.forRootAsync({
      pools: ['memcached'],
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        pools: [
          {
            name: 'memcached',
            host: config.get('MEMCACHED_HOST', '127.0.0.1'),
            port: Number(config.get('MEMCACHED_PORT', 11211)),
            min: 2,
          },
        ],
      }),
    }),
  ],
  providers: [CacheStatus],
  exports: [CacheStatus],
})
export class CacheModule {}
