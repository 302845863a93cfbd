import { describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  Connman,
  ConnmanModule,
  InjectPool,
  OnConnect,
  OnData,
  type ConnectionContext,
  type ConnmanPoolOptionsFactory,
  type RegisteredPoolOptions,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { compileError, startApp } from './nest-helpers.js';

const quick = { backoff: { initialDelayMillis: 10, maxDelayMillis: 50 } };

describe('ConnmanModule.registerPool / registerPoolAsync', () => {
  const scope = useScope();

  async function upstream(handler?: (socket: Socket) => void): Promise<TestServer> {
    const server = await TestServer.start(handler ? { handler } : {});
    scope.defer(() => server.stop());
    return server;
  }

  describe('registration', () => {
    it('registers a feature module pool without forRoot: injectable there, in the registry, opened with min on bootstrap', async () => {
      const server = await upstream();
      @Injectable()
      class FeatureService {
        constructor(
          @InjectPool('feature') readonly pool: ConnectionPool,
          readonly connman: Connman,
        ) {}
      }
      @Module({
        imports: [ConnmanModule.registerPool({ name: 'feature', ...server.endpoint, min: 2 })],
        providers: [FeatureService],
      })
      class FeatureModule {}
      const { app } = await startApp(scope, { imports: [FeatureModule] });
      const service = app.get(FeatureService);
      expect(service.pool).toBeInstanceOf(ConnectionPool);
      expect(service.pool.stats()).toMatchObject({ name: 'feature', state: 'open', connected: 2 });
      expect(service.connman.getPool('feature')).toBe(service.pool);
      const reply = await service.pool.use(async (socket) => {
        socket.write('ping');
        const [data] = await next<[Buffer]>(socket as Socket, 'data');
        return String(data);
      });
      expect(reply).toBe('ping');
    });

    it("puts forRoot's pools and those of two feature modules in one registry, whatever the import order", async () => {
      const server = await upstream();
      @Injectable()
      class A {
        constructor(
          @InjectPool('a') readonly pool: ConnectionPool,
          readonly connman: Connman,
        ) {}
      }
      @Module({ imports: [ConnmanModule.registerPool({ name: 'a', ...server.endpoint, min: 1 })], providers: [A] })
      class ModuleA {}
      @Injectable()
      class B {
        constructor(
          @InjectPool('b') readonly pool: ConnectionPool,
          readonly connman: Connman,
        ) {}
      }
      @Module({
        imports: [ConnmanModule.registerPoolAsync({ name: 'b', useFactory: () => ({ ...server.endpoint, min: 1 }) })],
        providers: [B],
      })
      class ModuleB {}
      @Injectable()
      class Root {
        constructor(
          @InjectPool('root') readonly pool: ConnectionPool,
          readonly connman: Connman,
        ) {}
      }
      const { app } = await startApp(scope, {
        imports: [ModuleA, ConnmanModule.forRoot({ pools: [{ name: 'root', ...server.endpoint, min: 1 }] }), ModuleB],
        providers: [Root],
      });
      const connman = app.get(Root).connman;
      expect(app.get(A).connman).toBe(connman);
      expect(app.get(B).connman).toBe(connman);
      expect(connman.poolNames.sort()).toEqual(['a', 'b', 'root']);
      for (const consumer of [app.get(A), app.get(B), app.get(Root)]) {
        expect(connman.getPool(consumer.pool.name)).toBe(consumer.pool);
        expect(consumer.pool.stats()).toMatchObject({ state: 'open', connected: 1 });
      }
    });

    it.each(['reference', 'deep-hash'] as const)(
      'shares a pool through the module that exports its registration; importing that registration again is the same pool (module ids: %s)',
      async (moduleIdGeneratorAlgorithm) => {
        const server = await upstream();
        const registration = ConnmanModule.registerPool({ name: 'shared', ...server.endpoint, min: 1 });
        @Module({ imports: [registration], exports: [registration] })
        class SharedModule {}
        @Injectable()
        class Consumer {
          constructor(@InjectPool('shared') readonly pool: ConnectionPool) {}
        }
        @Module({ imports: [SharedModule], providers: [Consumer] })
        class ConsumerModule {}
        @Injectable()
        class Other {
          constructor(@InjectPool('shared') readonly pool: ConnectionPool) {}
        }
        @Module({ imports: [registration], providers: [Other] })
        class OtherModule {}
        const { app } = await startApp(
          scope,
          { imports: [ConsumerModule, OtherModule] },
          { moduleIdGeneratorAlgorithm },
        );
        expect(app.get(Consumer).pool).toBe(app.get(Other).pool);
        expect(app.get(Connman).poolNames).toEqual(['shared']);
        expect(server.accepted).toBe(1);
      },
    );

    it('takes the options from registerPoolAsync useFactory + inject (ConfigService), the name left out', async () => {
      const server = await upstream();
      @Injectable()
      class Consumer {
        constructor(@InjectPool('cfg') readonly pool: ConnectionPool) {}
      }
      @Module({
        imports: [
          ConnmanModule.registerPoolAsync({
            name: 'cfg',
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService): RegisteredPoolOptions => ({
              host: '127.0.0.1',
              port: config.getOrThrow<number>('PORT'),
              min: 1,
            }),
          }),
        ],
        providers: [Consumer],
      })
      class FeatureModule {}
      const { app } = await startApp(scope, {
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ PORT: server.port })] }), FeatureModule],
      });
      const pool = app.get(Consumer).pool;
      expect(pool.name).toBe('cfg');
      expect(pool.stats().connected).toBe(1);
      expect(pool.connections[0].endpoint.port).toBe(server.port);
    });

    it('takes the options from registerPoolAsync useClass', async () => {
      const server = await upstream();
      @Injectable()
      class Options implements ConnmanPoolOptionsFactory {
        createPoolOptions(): RegisteredPoolOptions {
          return { name: 'cls', ...server.endpoint, min: 1 };
        }
      }
      const { app } = await startApp(scope, {
        imports: [ConnmanModule.registerPoolAsync({ name: 'cls', useClass: Options })],
      });
      expect(app.get(Connman).getPool('cls').stats().connected).toBe(1);
    });

    it('takes the options from registerPoolAsync useExisting', async () => {
      const server = await upstream();
      @Injectable()
      class Options implements ConnmanPoolOptionsFactory {
        async createPoolOptions(): Promise<RegisteredPoolOptions> {
          return { ...server.endpoint, min: 1 };
        }
      }
      @Module({ providers: [Options], exports: [Options] })
      class OptionsModule {}
      const { app } = await startApp(scope, {
        imports: [ConnmanModule.registerPoolAsync({ name: 'ex', imports: [OptionsModule], useExisting: Options })],
      });
      expect(app.get(Connman).getPool('ex').stats().connected).toBe(1);
    });
  });

  describe('one name, one pool', () => {
    it.each(['reference', 'deep-hash'] as const)(
      'stops the app at startup with ERR_DUPLICATE_POOL naming the pool and both registrations, even when they are alike (module ids: %s)',
      async (moduleIdGeneratorAlgorithm) => {
        const options = { name: 'dup', host: '127.0.0.1', port: 9, min: 0 };
        @Module({ imports: [ConnmanModule.registerPool(options)] })
        class First {}
        @Module({ imports: [ConnmanModule.registerPool(options)] })
        class Second {}
        const error = await compileError({ imports: [First, Second] }, { moduleIdGeneratorAlgorithm });
        expect(error.code).toBe('ERR_DUPLICATE_POOL');
        expect(error.pool).toBe('dup');
        expect(error.message).toBe(
          "Pool 'dup' is registered twice, by ConnmanModule.registerPool('dup') and by ConnmanModule.registerPool('dup'). " +
            'Pool names are unique in an application: register each pool once (in the module that owns it) and export that module to share the pool.',
        );
      },
    );

    it('refuses a registered pool named like a pool of forRoot, naming both registrations', async () => {
      @Module({
        imports: [ConnmanModule.registerPoolAsync({ name: 'p', useFactory: () => ({ host: '127.0.0.1', port: 9 }) })],
      })
      class Feature {}
      const error = await compileError({
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'p', host: '127.0.0.1', port: 9, min: 0 }] }), Feature],
      });
      expect(error.code).toBe('ERR_DUPLICATE_POOL');
      expect(error.message).toMatch(/^Pool 'p' is registered twice, by ConnmanModule\.\S+ and by ConnmanModule\.\S+\./);
      expect(error.message).toContain('ConnmanModule.forRoot()');
      expect(error.message).toContain("ConnmanModule.registerPoolAsync('p')");
    });

    it('refuses a second forRoot: an application has one set of module options', async () => {
      @Module({ imports: [ConnmanModule.forRoot({ shutdownTimeoutMillis: 10 })] })
      class Elsewhere {}
      const error = await compileError({
        imports: [ConnmanModule.forRootAsync({ useFactory: () => ({}) }), Elsewhere],
      });
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).toMatch(/^ConnmanModule is configured twice, by ConnmanModule\.forRoot/);
      expect(error.message).toContain('registerPool()');
    });
  });

  describe('defaults', () => {
    it("starts every pool from forRoot's defaults: a pool's own keys win, undefined ones excepted, and backoff merges one level deep", async () => {
      const server = await upstream();
      @Module({
        imports: [
          ConnmanModule.registerPool({
            name: 'own',
            ...server.endpoint,
            min: 0,
            max: 5,
            acquireTimeoutMillis: undefined,
            backoff: { maxDelayMillis: 900 },
          }),
        ],
      })
      class Feature {}
      const { app } = await startApp(scope, {
        imports: [
          Feature,
          ConnmanModule.forRoot({
            defaults: { max: 3, acquireTimeoutMillis: 1234, backoff: { initialDelayMillis: 20, maxDelayMillis: 400 } },
            pools: [{ name: 'root', ...server.endpoint, min: 0 }],
          }),
        ],
      });
      const connman = app.get(Connman);
      const root = connman.getPool('root').options;
      expect(root).toMatchObject({ max: 3, acquireTimeoutMillis: 1234 });
      expect(root.connection.backoff).toMatchObject({ initialDelayMillis: 20, maxDelayMillis: 400 });
      const own = connman.getPool('own').options;
      expect(own).toMatchObject({ max: 5, acquireTimeoutMillis: 1234 });
      expect(own.connection.backoff).toMatchObject({ initialDelayMillis: 20, maxDelayMillis: 900 });
    });

    it('takes defaults from a forRootAsync factory (ConfigService) for pools registered with registerPoolAsync', async () => {
      const server = await upstream();
      @Module({
        imports: [
          ConnmanModule.registerPoolAsync({ name: 'late', useFactory: () => ({ ...server.endpoint, min: 0 }) }),
        ],
      })
      class Feature {}
      const { app } = await startApp(scope, {
        imports: [
          Feature,
          ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ MAX: '7' })] }),
          ConnmanModule.forRootAsync({
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService) => ({ defaults: { max: Number(config.get('MAX')) } }),
          }),
        ],
      });
      expect(app.get(Connman).getPool('late').stats().max).toBe(7);
    });
  });

  describe('handlers', () => {
    it("routes a registered pool's events to @OnData(name) in another module, and to handlers without a pool name", async () => {
      const server = await upstream((socket) => socket.write(`hello ${socket.localPort}`));
      const data: string[] = [];
      const connects: string[] = [];
      @Injectable()
      class Handlers {
        @OnData('feature')
        onFeatureData(chunk: Buffer, context: ConnectionContext): void {
          data.push(`${context.pool}:${chunk}`);
        }
        @OnConnect()
        onAnyConnect(_socket: Socket, context: ConnectionContext): void {
          connects.push(String(context.pool));
        }
      }
      @Module({ imports: [ConnmanModule.registerPool({ name: 'feature', ...server.endpoint, min: 1, ...quick })] })
      class Feature {}
      const { app } = await startApp(scope, {
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'root', ...server.endpoint, min: 1, ...quick }] }), Feature],
        providers: [Handlers],
      });
      const feature = app.get(Connman).getPool('feature');
      await until(feature.connections[0], 'data', () => data.length > 0);
      expect(data).toEqual([`feature:hello ${server.port}`]);
      expect(connects.sort()).toEqual(['feature', 'root']);
    });
  });
});
