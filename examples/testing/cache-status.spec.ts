// examples/testing/cache-status.spec.ts
import { afterEach, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { Duplex } from 'node:stream';
import { ConnmanError, getPoolToken, type ConnectionPool, type ConnmanSocket } from 'nestjs-connman';
import { CacheModule } from './cache.module.js';
import { CacheStatus } from './cache-status.service.js';

/** A socket stand-in that answers each line written to it from a script: no network at all. */
function scriptedSocket(script: Record<string, string>): ConnmanSocket {
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      const reply = script[String(chunk)];
      if (reply !== undefined) this.push(reply);
      done();
    },
  });
  return socket as unknown as ConnmanSocket;
}

describe('CacheStatus, with the pool replaced by a fake', () => {
  let moduleRef: TestingModule;

  /** The application's module, with the one pool member CacheStatus calls (`use`) faked. */
  async function cacheStatusWith(fakePool: Pick<ConnectionPool, 'use'>): Promise<CacheStatus> {
    moduleRef = await Test.createTestingModule({ imports: [CacheModule] })
      .overrideProvider(getPoolToken('memcached'))
      .useValue(fakePool)
      .compile(); // no init(): the module's own pool is created but never opened
    return moduleRef.get(CacheStatus);
  }

  afterEach(() => moduleRef.close());

  it('parses the version the server sends', async () => {
    const cache = await cacheStatusWith({
      // CacheStatus uses only the socket, not the lease.
      use: async (fn) => fn(scriptedSocket({ 'version\r\n': 'VERSION 1.6.21\r\n' }), undefined as never),
    });
    expect(await cache.version()).toBe('1.6.21');
  });

  it('reports down, without throwing, when the pool has no connection to give', async () => {
    const cache = await cacheStatusWith({
      use: async () => {
        throw new ConnmanError('ERR_ACQUIRE_TIMEOUT', 'no connection within 200 ms', { pool: 'memcached' });
      },
    });
    expect(await cache.status()).toEqual({ status: 'down', reason: 'ERR_ACQUIRE_TIMEOUT' });
  });
});
