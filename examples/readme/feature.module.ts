// examples/readme/feature.module.ts
import { Injectable, Module } from '@nestjs/common';
import { ConnmanModule, InjectPool, lines, type ConnectionPool } from 'nestjs-connman';

@Injectable()
export class CacheService {
  constructor(@InjectPool('cache') private readonly cache: ConnectionPool) {}

  async version(): Promise<string> {
    return (await this.cache.request('version\r\n')).toString();
  }
}

// A feature module registers its own pool (injectable inside it) and exports the service that uses
// it; to inject the pool in a module that imports this one, export the registerPool(...) result too.
// Options shared by every pool of the app come from the root module's ConnmanModule.forRoot({ defaults }).
@Module({
  imports: [
    ConnmanModule.registerPool({
      name: 'cache',
      host: '127.0.0.1',
      port: Number(process.env.MEMCACHED_PORT ?? 11211),
      framing: lines(),
    }),
  ],
  providers: [CacheService],
  exports: [CacheService],
})
export class CacheModule {}

@Module({
  imports: [
    ConnmanModule.forRoot({ defaults: { connectTimeoutMillis: 2000, backoff: { maxDelayMillis: 5000 } } }),
    CacheModule,
  ],
})
export class AppModule {}
