import { describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Connman,
  ConnmanModule,
  InjectPool,
  OnData,
  getPoolToken,
  isConnmanError,
  type ConnectionContext,
  type ConnmanError,
} from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer, refusedPort, silent } from '../helpers/server.js';
import { RecordingNestLogger, startApp } from './nest-helpers.js';

const quick = { backoff: { initialDelayMillis: 10, maxDelayMillis: 50 } };

describe('ConnmanModule lifecycle', () => {
  const scope = useScope();

  /** Initialises an app that is expected to fail on bootstrap; returns the error and what was logged. */
  async function failingBootstrap(imports: unknown[]): Promise<{ error: ConnmanError; logger: RecordingNestLogger }> {
    const logger = new RecordingNestLogger();
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] })
      .setLogger(logger)
      .compile();
    const app = moduleRef.createNestApplication({ logger });
    scope.defer(() => app.close());
    const error = (await app.init().then(
      () => undefined,
      (e: unknown) => e,
    )) as ConnmanError | undefined;
    if (error === undefined) throw new Error('expected the app not to start');
    return { error, logger };
  }

  describe('shutdown', () => {
    it('keeps @OnData handlers bound while app.close() drains a lease in flight, so late replies still reach them', async () => {
      const server = await TestServer.start({ handler: silent });
      scope.defer(() => server.stop());
      const received: string[] = [];
      @Injectable()
      class Replies {
        @OnData('s')
        onData(chunk: Buffer, context: ConnectionContext): void {
          received.push(`${context.pool}:${chunk}`);
        }
      }
      const { app } = await startApp(scope, {
        imports: [
          ConnmanModule.forRoot({
            shutdownTimeoutMillis: 5000,
            pools: [{ name: 's', ...server.endpoint, min: 1, max: 1 }],
          }),
        ],
        providers: [Replies],
      });
      const peer = await server.nextConnection();
      const pool = app.get(Connman).getPool('s');
      const lease = await pool.acquire();
      const waiter = pool.acquire().catch((e: ConnmanError) => e.code);
      const closing = app.close();
      // The waiter is rejected by the drain (beforeApplicationShutdown): onModuleDestroy is over by now.
      expect(await waiter).toBe('ERR_POOL_CLOSED');
      expect(pool.state).toBe('closing');
      peer.write('late reply');
      await next(lease.socket, 'data');
      expect(received).toEqual(['s:late reply']);
      lease.release();
      await closing;
      expect(pool.state).toBe('closed');
    });

    it('closes pools registered by feature modules on app.close(), with no reconnect', async () => {
      const server = await TestServer.start();
      scope.defer(() => server.stop());
      @Module({ imports: [ConnmanModule.registerPool({ name: 'feature', ...server.endpoint, min: 2, ...quick })] })
      class Feature {}
      const { app } = await startApp(scope, { imports: [Feature] });
      const pool = app.get(Connman).getPool('feature');
      expect(pool.stats().connected).toBe(2);
      await app.close();
      expect(pool.state).toBe('closed');
      const accepted = server.accepted;
      await server.restart();
      expect(server.accepted).toBe(accepted);
    });
  });

  describe('a pool replaced in a test', () => {
    it('does not open a pool whose token overrideProvider() replaced; the service gets the fake', async () => {
      const server = await TestServer.start({ handler: silent });
      scope.defer(() => server.stop());
      const fake = { request: async () => Buffer.from('fake reply') };
      @Injectable()
      class CacheService {
        constructor(@InjectPool('cache') readonly pool: { request(payload: string): Promise<Buffer> }) {}
      }
      const logger = new RecordingNestLogger();
      const moduleRef = await Test.createTestingModule({
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'cache', ...server.endpoint, min: 1, ...quick }] })],
        providers: [CacheService],
      })
        .overrideProvider(getPoolToken('cache'))
        .useValue(fake)
        .setLogger(logger)
        .compile();
      const app = moduleRef.createNestApplication({ logger });
      scope.defer(() => app.close());
      await app.init();
      expect(app.get(CacheService).pool).toBe(fake);
      expect(String(await app.get(CacheService).pool.request('x'))).toBe('fake reply');
      expect(app.get(Connman).getPool('cache').state).toBe('new');
      expect(server.accepted).toBe(0);
      expect(logger.messages('log').some((m) => m.includes("Pool 'cache' is not opened"))).toBe(true);
    });
  });

  describe('a feature module pool replaced in a test', () => {
    it('starts with @OnData handlers for a registerPool pool whose token overrideProvider() replaced; a misspelt pool still fails', async () => {
      const server = await TestServer.start({ handler: silent });
      scope.defer(() => server.stop());
      const fake = { fake: true };
      const seen: unknown[] = [];
      @Injectable()
      class Listener {
        @OnData('cache')
        onData(frame: unknown): void {
          seen.push(frame);
        }
      }
      @Injectable()
      class CacheService {
        constructor(@InjectPool('cache') readonly pool: unknown) {}
      }
      @Module({
        imports: [ConnmanModule.registerPool({ name: 'cache', ...server.endpoint, min: 1, ...quick })],
        providers: [CacheService, Listener],
      })
      class CacheModule {}
      const moduleRef = await Test.createTestingModule({ imports: [CacheModule] })
        .overrideProvider(getPoolToken('cache'))
        .useValue(fake)
        .compile();
      const app = moduleRef.createNestApplication({ logger: false });
      scope.defer(() => app.close());
      await app.init();
      expect(app.get(CacheService).pool).toBe(fake);
      expect(app.get(Connman).hasPool('cache')).toBe(false);
      expect(server.accepted).toBe(0);
      expect(seen).toEqual([]);

      @Injectable()
      class Misspelt {
        @OnData('cahce')
        onData(): void {}
      }
      const broken = await Test.createTestingModule({ imports: [CacheModule], providers: [Misspelt] })
        .overrideProvider(getPoolToken('cache'))
        .useValue(fake)
        .compile();
      const brokenApp = broken.createNestApplication({ logger: false });
      await expect(brokenApp.init()).rejects.toMatchObject({ code: 'ERR_UNKNOWN_POOL' });
      await brokenApp.close();
    });
  });

  describe('bootstrap failure', () => {
    it('fails to start with one error naming every pool that could not open, closes all pools, and logs nothing of it', async () => {
      const server = await TestServer.start();
      scope.defer(() => server.stop());
      const port = await refusedPort();
      @Module({
        imports: [
          ConnmanModule.registerPool({ name: 'a', host: '127.0.0.1', port, min: 1, openTimeoutMillis: 100, ...quick }),
        ],
      })
      class FeatureA {}
      @Module({
        imports: [
          ConnmanModule.registerPoolAsync({
            name: 'b',
            useFactory: () => ({ host: '127.0.0.1', port, min: 2, openTimeoutMillis: 100, ...quick }),
          }),
        ],
      })
      class FeatureB {}
      let connman: Connman | undefined;
      @Injectable()
      class Spy {
        constructor(registry: Connman) {
          connman = registry;
        }
      }
      @Module({ providers: [Spy] })
      class SpyModule {}
      const { error, logger } = await failingBootstrap([
        ConnmanModule.forRoot({ pools: [{ name: 'up', ...server.endpoint, min: 1 }] }),
        FeatureA,
        FeatureB,
        SpyModule,
      ]);
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(error.pool).toBe('a');
      expect(error.message).toMatch(/^2 pools could not open on application bootstrap\. /);
      expect(error.message).toContain(`Pool 'a': 0 of 1 connection(s) up within 100 ms; 127.0.0.1:${port}: `);
      expect(error.message).toContain(`Pool 'b': 0 of 2 connection(s) up within 100 ms; 127.0.0.1:${port}: `);
      expect(error.message).toMatch(/last error: connect ECONNREFUSED/);
      expect(error.message).not.toContain("Pool 'up'");
      expect(error.message).not.toMatch(/keeps trying/);
      expect(logger.messages('error')).toEqual([]);
      // Every pool is closed, the one that did open included: nothing keeps the process alive.
      expect(connman!.poolNames).toEqual([]);
    });

    it('bounds the bootstrap wait by the module openTimeoutMillis, below the pools own', async () => {
      const port = await refusedPort();
      const { error } = await failingBootstrap([
        ConnmanModule.forRoot({
          openTimeoutMillis: 50,
          pools: [{ name: 'slow', host: '127.0.0.1', port, min: 1, openTimeoutMillis: 60_000, ...quick }],
        }),
      ]);
      expect(isConnmanError(error, 'ERR_CONNECT_TIMEOUT')).toBe(true);
      expect(error.message).toContain(
        "Pool 'slow' could not open on application bootstrap: 0 of 1 connection(s) up within 50 ms",
      );
    });
  });
});
