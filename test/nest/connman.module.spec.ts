import { describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Scope, type LoggerService, type Type } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  Connman,
  ConnmanModule,
  InjectPool,
  OnConnect,
  OnData,
  OnReset,
  getPoolToken,
  type ConnectionContext,
  type ConnmanError,
  type ConnmanModuleOptions,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer, refusedPort } from '../helpers/server.js';

/** Captures what Nest (and the library, through Nest's Logger) logs. */
class RecordingNestLogger implements LoggerService {
  readonly lines: { level: string; message: string; context?: string }[] = [];
  log(message: string, context?: string): void {
    this.lines.push({ level: 'log', message, context });
  }
  error(message: string, _stack?: string, context?: string): void {
    this.lines.push({ level: 'error', message, context });
  }
  warn(message: string, context?: string): void {
    this.lines.push({ level: 'warn', message, context });
  }
  debug(): void {}
  verbose(): void {}
  messages(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

const quick = { backoff: { initialDelayMillis: 10, maxDelayMillis: 50 } };

describe('ConnmanModule', () => {
  const scope = useScope();

  async function upstream(): Promise<TestServer> {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    return server;
  }

  /** Builds and initialises an app from `imports` and `providers`; closed after the test. */
  async function app(
    imports: unknown[],
    providers: Type[] = [],
    controllers: Type[] = [],
  ): Promise<{ app: INestApplication; logger: RecordingNestLogger }> {
    const logger = new RecordingNestLogger();
    const moduleRef = await Test.createTestingModule({ imports: imports as never[], providers, controllers })
      .setLogger(logger)
      .compile();
    const application = moduleRef.createNestApplication({ logger });
    scope.defer(() => application.close());
    await application.init();
    return { app: application, logger };
  }

  describe('forRoot', () => {
    it('injects pools with @InjectPool and the registry as Connman, opened with min connections on bootstrap', async () => {
      const server = await upstream();
      @Injectable()
      class Consumer {
        constructor(
          @InjectPool('echo') readonly pool: ConnectionPool,
          readonly connman: Connman,
        ) {}
      }
      const { app: application } = await app(
        [ConnmanModule.forRoot({ pools: [{ name: 'echo', ...server.endpoint, min: 2, ...quick }] })],
        [Consumer],
      );
      const consumer = application.get(Consumer);
      expect(consumer.pool).toBeInstanceOf(ConnectionPool);
      expect(consumer.pool).toBe(application.get(getPoolToken('echo')));
      expect(consumer.connman.getPool('echo')).toBe(consumer.pool);
      expect(consumer.pool.stats()).toMatchObject({ state: 'open', connected: 2 });
      const reply = await consumer.pool.use(async (socket) => {
        socket.write('ping');
        const [data] = await next<[Buffer]>(socket as Socket, 'data');
        return String(data);
      });
      expect(reply).toBe('ping');
    });

    it('stops the app at startup with a ConnmanError naming the pool and the bad option', async () => {
      const moduleRef = Test.createTestingModule({
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'apns', host: '127.0.0.1', port: 2195, max: -1 }] })],
      }).setLogger(new RecordingNestLogger());
      const error = (await moduleRef.compile().catch((e: unknown) => e)) as ConnmanError;
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).toMatch(/option 'max' for pool 'apns'/);
    });

    it('rejects a decorator naming a pool that is not registered, listing the registered ones', async () => {
      @Injectable()
      class Lost {
        @OnData('missing')
        onData(): void {}
      }
      const moduleRef = await Test.createTestingModule({
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'a', host: '127.0.0.1', port: 9, min: 0 }] })],
        providers: [Lost],
      })
        .setLogger(new RecordingNestLogger())
        .compile();
      // Nest 11's close() rethrows the failed init; there is nothing to close here anyway.
      scope.defer(() => moduleRef.close().catch(() => undefined));
      const error = (await moduleRef.init().catch((e: unknown) => e)) as ConnmanError;
      expect(error.code).toBe('ERR_UNKNOWN_POOL');
      expect(error.message).toBe(
        "Lost.onData() handles pool 'missing', which ConnmanModule does not register: No pool named 'missing'; registered pools: 'a'.",
      );
    });

    it('fails at startup when @InjectPool names a pool no ConnmanModule registers, naming its token', async () => {
      @Injectable()
      class NeedsMissing {
        constructor(@InjectPool('missing') readonly pool: ConnectionPool) {}
      }
      const error = (await Test.createTestingModule({
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'a', host: '127.0.0.1', port: 9, min: 0 }] })],
        providers: [NeedsMissing],
      })
        .setLogger(new RecordingNestLogger())
        .compile()
        .catch((e: unknown) => e)) as Error;
      // Nest's own dependency error, raised before any code of ours runs: it names the pool's token.
      expect(error.message).toContain(getPoolToken('missing'));
      expect(getPoolToken('missing')).toBe('connman:pool:missing');
    });

    it('makes the module global with isGlobal', async () => {
      const server = await upstream();
      @Injectable()
      class Deep {
        constructor(@InjectPool('g') readonly pool: ConnectionPool) {}
      }
      @Module({ providers: [Deep], exports: [Deep] })
      class FeatureModule {}
      const { app: application } = await app([
        ConnmanModule.forRoot({ isGlobal: true, pools: [{ name: 'g', ...server.endpoint, min: 1 }] }),
        FeatureModule,
      ]);
      expect(application.get(Deep).pool.name).toBe('g');
    });
  });

  describe('forRootAsync', () => {
    it('takes its options from ConfigService (useFactory + inject)', async () => {
      const server = await upstream();
      const { app: application } = await app([
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ UPSTREAM_PORT: server.port })] }),
        ConnmanModule.forRootAsync({
          pools: ['cfg'],
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService): ConnmanModuleOptions => ({
            pools: [{ name: 'cfg', host: '127.0.0.1', port: config.getOrThrow<number>('UPSTREAM_PORT'), min: 1 }],
          }),
        }),
      ]);
      const pool = application.get<ConnectionPool>(getPoolToken('cfg'));
      expect(pool.stats()).toMatchObject({ connected: 1 });
      expect(pool.connections[0].endpoint.port).toBe(server.port);
    });

    it('works with useClass', async () => {
      const server = await upstream();
      @Injectable()
      class OptionsFactory {
        createConnmanOptions(): ConnmanModuleOptions {
          return { pools: [{ name: 'cls', ...server.endpoint, min: 1 }] };
        }
      }
      const { app: application } = await app([
        ConnmanModule.forRootAsync({ pools: ['cls'], useClass: OptionsFactory }),
      ]);
      expect(application.get<ConnectionPool>(getPoolToken('cls')).stats().connected).toBe(1);
    });

    it('works with useExisting', async () => {
      const server = await upstream();
      @Injectable()
      class OptionsFactory {
        createConnmanOptions(): ConnmanModuleOptions {
          return { pools: [{ name: 'ex', ...server.endpoint, min: 1 }] };
        }
      }
      @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
      class OptionsModule {}
      const { app: application } = await app([
        ConnmanModule.forRootAsync({ pools: ['ex'], imports: [OptionsModule], useExisting: OptionsFactory }),
      ]);
      expect(application.get<ConnectionPool>(getPoolToken('ex')).stats().connected).toBe(1);
    });

    it('fails at startup when the factory does not define the declared pools', async () => {
      const moduleRef = Test.createTestingModule({
        imports: [
          ConnmanModule.forRootAsync({
            pools: ['a', 'b'],
            useFactory: () => ({ pools: [{ name: 'a', host: '127.0.0.1', port: 9, min: 0 }] }),
          }),
        ],
      }).setLogger(new RecordingNestLogger());
      const error = (await moduleRef.compile().catch((e: unknown) => e)) as ConnmanError;
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).toContain('declared pools [a, b] but the factory returned options for [a]');
    });
  });

  describe('event handlers', () => {
    it('routes connect, data and reset events to decorated methods with { pool, connection, endpoint }', async () => {
      const server = await upstream();
      const seen: string[] = [];
      const contexts: ConnectionContext[] = [];
      @Injectable()
      class Handlers {
        @OnConnect('echo')
        connected(socket: Socket, context: ConnectionContext): void {
          seen.push(`connect:${socket.remotePort === server.port}`);
          contexts.push(context);
          socket.write('hello');
        }
        @OnData('echo')
        data(chunk: Buffer, context: ConnectionContext): void {
          seen.push(`data:${chunk}`);
          contexts.push(context);
        }
        @OnReset('echo')
        reset(error: Error): void {
          seen.push(`reset:${(error as NodeJS.ErrnoException).code}`);
        }
      }
      const { app: application } = await app(
        [ConnmanModule.forRoot({ pools: [{ name: 'echo', ...server.endpoint, min: 1, ...quick }] })],
        [Handlers],
      );
      const pool = application.get<ConnectionPool>(getPoolToken('echo'));
      await until(pool.connections[0], 'data', () => seen.includes('data:hello'));
      expect(seen.slice(0, 2)).toEqual(['connect:true', 'data:hello']);
      expect(contexts[0]).toMatchObject({ pool: 'echo', connection: pool.connections[0], endpoint: server.endpoint });
      server.resetAll();
      await next(pool, 'reconnect');
      expect(seen).toContain('reset:ECONNRESET');
      expect(seen.filter((s) => s === 'connect:true')).toHaveLength(2);
    });

    it('calls the function an @OnReset handler returns once the connection is back, instead of @OnConnect', async () => {
      const server = await upstream();
      const seen: string[] = [];
      @Injectable()
      class Handlers {
        @OnConnect()
        connected(): void {
          seen.push('connect');
        }
        @OnReset()
        async reset(): Promise<() => void> {
          seen.push('reset');
          return () => seen.push('resume');
        }
      }
      const { app: application } = await app(
        [ConnmanModule.forRoot({ pools: [{ name: 'p', ...server.endpoint, min: 1, ...quick }] })],
        [Handlers],
      );
      const pool = application.get<ConnectionPool>(getPoolToken('p'));
      server.resetAll();
      await next(pool, 'reconnect');
      await until(pool, 'reconnect', () => seen.includes('resume'));
      expect(seen).toEqual(['connect', 'reset', 'resume']);
    });

    it('binds stacked decorators and handlers on controllers, skips aliases, and warns about request-scoped providers', async () => {
      const a = await upstream();
      const b = await upstream();
      const hits: string[] = [];
      @Injectable()
      class Multi {
        @OnData('a')
        @OnData('b')
        both(chunk: Buffer, context: ConnectionContext): void {
          hits.push(`multi:${context.pool}:${chunk}`);
        }
      }
      @Controller()
      class Ctl {
        @OnData('a')
        onA(chunk: Buffer): void {
          hits.push(`ctl:${chunk}`);
        }
        @Get()
        get(): string {
          return 'ok';
        }
      }
      @Injectable({ scope: Scope.REQUEST })
      class PerRequest {
        @OnData()
        never(): void {
          hits.push('request-scoped');
        }
      }
      @Module({
        imports: [
          ConnmanModule.forRoot({
            pools: [
              { name: 'a', ...a.endpoint, min: 1 },
              { name: 'b', ...b.endpoint, min: 1 },
            ],
          }),
        ],
        providers: [Multi, { provide: 'ALIAS', useExisting: Multi }, PerRequest],
        controllers: [Ctl],
      })
      class AppModule {}
      const { app: application, logger } = await app([AppModule]);
      const connman = application.get(Connman);
      connman.getPool('a').pick().socket!.write('1');
      await until(connman.getPool('a').connections[0], 'data', () => hits.length >= 2);
      connman.getPool('b').pick().socket!.write('2');
      await until(connman.getPool('b').connections[0], 'data', () => hits.length >= 3);
      expect(hits.sort()).toEqual(['ctl:1', 'multi:a:1', 'multi:b:2']);
      expect(logger.messages('warn')).toEqual([expect.stringContaining('PerRequest is request-scoped')]);
    });

    it('logs a throwing or rejecting handler through Nest Logger and keeps going', async () => {
      const server = await upstream();
      let calls = 0;
      @Injectable()
      class Faulty {
        @OnData()
        sync(): void {
          calls++;
          throw new Error('sync failure');
        }
        @OnData()
        async later(): Promise<void> {
          throw new Error('async failure');
        }
      }
      const { app: application, logger } = await app(
        [ConnmanModule.forRoot({ pools: [{ name: 'f', ...server.endpoint, min: 1 }] })],
        [Faulty],
      );
      const conn = application.get(Connman).getPool('f').connections[0];
      conn.socket!.write('x');
      await next(conn, 'data');
      await new Promise((resolve) => setImmediate(resolve));
      conn.socket!.write('y');
      await next(conn, 'data');
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(2);
      const errors = logger.messages('error');
      expect(errors).toContain("@OnData handler Faulty.sync() for pool 'f' failed: sync failure");
      expect(errors).toContain("@OnData handler Faulty.later() for pool 'f' failed: async failure");
      expect(conn.connected).toBe(true);
    });
  });

  describe('lifecycle', () => {
    it('fails to start with one error, logged nowhere else, naming the pool, the endpoint and the last connect error, and leaves nothing behind', async () => {
      const port = await refusedPort();
      const logger = new RecordingNestLogger();
      const moduleRef = await Test.createTestingModule({
        imports: [
          ConnmanModule.forRoot({
            pools: [{ name: 'down', host: '127.0.0.1', port, min: 1, openTimeoutMillis: 100, ...quick }],
          }),
        ],
      })
        .setLogger(logger)
        .compile();
      const application = moduleRef.createNestApplication({ logger });
      const error = (await application.init().catch((e: unknown) => e)) as ConnmanError;
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(error.message).toContain("Pool 'down'");
      expect(error.message).toContain(`127.0.0.1:${port}`);
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).toContain('within 100 ms');
      // The app is exiting and its pools are closed: the core's "keeps trying" no longer holds.
      expect(error.message).not.toMatch(/keeps trying/);
      expect(error.message).toContain('its pools are closed');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      // Reported once, by whoever started the app: the library logs nothing of it.
      expect(logger.lines.filter((l) => l.message.includes("'down'"))).toEqual([]);
      await application.close();
    });

    it('connects in the background with waitForConnections: false', async () => {
      const port = await refusedPort();
      const { app: application } = await app([
        ConnmanModule.forRoot({
          waitForConnections: false,
          pools: [{ name: 'bg', host: '127.0.0.1', port, min: 1, ...quick }],
        }),
      ]);
      const pool = application.get(Connman).getPool('bg');
      expect(pool.state).toBe('open');
      expect(pool.stats().connected).toBe(0);
    });

    it('on app.close(): rejects waiters, lets a lease in flight finish within the grace, then closes everything', async () => {
      const server = await upstream();
      const { app: application } = await app([
        ConnmanModule.forRoot({
          shutdownTimeoutMillis: 5000,
          pools: [{ name: 's', ...server.endpoint, min: 1, max: 1 }],
        }),
      ]);
      const pool = application.get(Connman).getPool('s');
      const lease = await pool.acquire();
      const waiter = pool.acquire().catch((e: ConnmanError) => e.code);
      const closing = application.close();
      expect(await waiter).toBe('ERR_POOL_CLOSED');
      lease.socket.write('finishing');
      const [echoed] = await next<[Buffer]>(lease.socket, 'data');
      expect(String(echoed)).toBe('finishing');
      lease.release();
      await closing;
      expect(pool.state).toBe('closed');
      const accepted = server.accepted;
      await server.restart();
      expect(server.accepted).toBe(accepted);
    });
  });
});
