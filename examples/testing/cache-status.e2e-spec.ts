// examples/testing/cache-status.e2e-spec.ts
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { once } from 'node:events';
import { ConnmanModule, getPoolToken, type ConnectionPool } from 'nestjs-connman';
import { FaultProxy, TestServer, replyLines } from 'nestjs-connman/testing';
import { CacheStatus } from './cache-status.service.js';

describe('CacheStatus, with a real pool against a scripted server', () => {
  let server: TestServer;
  let proxy: FaultProxy;
  let app: INestApplication;
  let cache: CacheStatus;

  beforeEach(async () => {
    // A loopback server that answers like memcached, and a FaultProxy in front of it.
    server = await TestServer.start({ handler: replyLines({ version: 'VERSION 1.6.21\r\n' }) });
    proxy = await FaultProxy.start(server.endpoint);
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConnmanModule.forRoot({
          pools: [
            {
              name: 'memcached',
              ...proxy.endpoint, // the pool connects through the proxy
              min: 1,
              acquireTimeoutMillis: 200,
              backoff: { initialDelayMillis: 10, maxDelayMillis: 50 },
            },
          ],
        }),
      ],
      providers: [CacheStatus],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init(); // opens the pool: its min connections are up
    cache = app.get(CacheStatus);
  });

  afterEach(async () => {
    await app.close();
    await proxy.close();
    await server.stop();
  });

  it('reads the version', async () => {
    expect(await cache.version()).toBe('1.6.21');
  });

  it('reads a reply that TCP delivers one byte at a time', async () => {
    proxy.downstream.set({ sliced: true, sliceBytes: 1, sliceDelayMillis: 1 });
    expect(await cache.version()).toBe('1.6.21');
  });

  it('gives up on a stalled server after its deadline, and recovers when it answers again', async () => {
    proxy.stalled = true;
    expect(await cache.status()).toEqual({ status: 'down', reason: 'no reply within 500 ms' });
    proxy.heal();
    expect(await cache.status()).toEqual({ status: 'up', version: '1.6.21' });
  });

  it('reports down while the server is unreachable, and up once it is back', async () => {
    const pool = app.get<ConnectionPool>(getPoolToken('memcached'));
    const lost = once(pool, 'reset');
    await proxy.down();
    await lost; // the pool has seen its connection go
    expect(await cache.status()).toEqual({ status: 'down', reason: 'ERR_ACQUIRE_TIMEOUT' });
    await proxy.up();
    expect(await cache.status()).toEqual({ status: 'up', version: '1.6.21' });
  });
});
