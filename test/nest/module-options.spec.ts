import { describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import {
  Connman,
  ConnmanModule,
  OnConnect,
  isConnmanError,
  lines,
  type ConnmanModuleOptions,
} from '../../lib/index.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { compileError, startApp } from './nest-helpers.js';

/** A string that must never show up in a message (options may carry secrets). */
const SECRET = 's3cr3t-9f2c';

const noop = (): void => undefined;

/** [what is wrong, the options, what the message must say] */
const invalid: [string, Record<string, unknown>, string][] = [
  ['waitForConnections from ConfigService', { waitForConnections: 'false' }, "Invalid option 'waitForConnections'"],
  ['a negative openTimeoutMillis', { openTimeoutMillis: -1 }, "Invalid option 'openTimeoutMillis'"],
  ['a string openTimeoutMillis', { openTimeoutMillis: SECRET }, "Invalid option 'openTimeoutMillis'"],
  ['a fractional shutdownTimeoutMillis', { shutdownTimeoutMillis: 1.5 }, "Invalid option 'shutdownTimeoutMillis'"],
  ['a logger without methods', { logger: {} }, "Invalid option 'logger'"],
  ['a logger whose warn is not a function', { logger: { error: noop, warn: SECRET } }, "Invalid option 'logger'"],
  ['pools that are not an array', { pools: { name: 'a' } }, "Invalid option 'pools'"],
  ['defaults that are not an object', { defaults: SECRET }, "Invalid option 'defaults'"],
  ['an endpoint in defaults', { defaults: { host: SECRET } }, "Invalid option 'defaults.host'"],
  ['a name in defaults', { defaults: { name: SECRET } }, "Invalid option 'defaults.name'"],
  ['a bad value in defaults', { defaults: { max: -1 } }, "Invalid option 'defaults.max'"],
  [
    'a bad nested value in defaults',
    { defaults: { backoff: { maxDelayMillis: SECRET } } },
    "Invalid option 'defaults.backoff.maxDelayMillis'",
  ],
  ['an unknown key in defaults', { defaults: { maxSize: 3 } }, "Unknown option 'defaults.maxSize'"],
  ['an unknown module key', { shutdownTimeoutMs: 10 }, "Unknown option 'shutdownTimeoutMs'"],
];

describe('ConnmanModule options, validated at startup', () => {
  const scope = useScope();

  describe.each([
    ['forRoot', (options: Record<string, unknown>) => ConnmanModule.forRoot(options as ConnmanModuleOptions)],
    [
      'forRootAsync',
      (options: Record<string, unknown>) =>
        ConnmanModule.forRootAsync({ useFactory: () => options as ConnmanModuleOptions }),
    ],
  ])('%s', (method, build) => {
    it.each(invalid)(
      'refuses %s with ERR_INVALID_OPTIONS naming the key, never the value',
      async (_what, options, says) => {
        const error = await compileError({ imports: [build(options)] });
        expect(isConnmanError(error, 'ERR_INVALID_OPTIONS')).toBe(true);
        expect(error.message).toContain(says);
        expect(error.message).toContain(`ConnmanModule.${method}()`);
        expect(error.message).not.toContain(SECRET);
      },
    );
  });

  it('refuses a string shutdownTimeoutMillis from ConfigService, saying how to convert it, before anything connects', async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const error = await compileError({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ SHUTDOWN_MS: '3000' })] }),
        ConnmanModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService): ConnmanModuleOptions => ({
            shutdownTimeoutMillis: config.get('SHUTDOWN_MS'),
            pools: [{ name: 'p', ...server.endpoint }],
          }),
        }),
      ],
    });
    expect(error.message).toBe(
      "Invalid option 'shutdownTimeoutMillis' for ConnmanModule.forRootAsync(): expected an integer number of ms from 0 to 2147483647, " +
        "got a string (ConfigService and process.env give strings: convert numbers with Number() and booleans with === 'true').",
    );
    expect(server.accepted).toBe(0);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', SECRET],
    ['an array', []],
  ])('refuses a forRootAsync factory that returns %s, saying what to return', async (kind, value) => {
    const error = await compileError({
      imports: [ConnmanModule.forRootAsync({ useFactory: () => value as unknown as ConnmanModuleOptions })],
    });
    expect(isConnmanError(error, 'ERR_INVALID_OPTIONS')).toBe(true);
    expect(error.message).toMatch(
      new RegExp(
        `^The factory of ConnmanModule\\.forRootAsync\\(\\) returned ${kind}; it must return an object of ConnmanModule options`,
      ),
    );
    expect(error.message).not.toContain(SECRET);
  });

  it('refuses bad arguments of forRoot / forRootAsync at once, naming the key', () => {
    const attempts: [() => unknown, string][] = [
      [() => ConnmanModule.forRoot(undefined as never), 'ConnmanModule.forRoot() needs an object'],
      [() => ConnmanModule.forRoot({ isGlobal: 'yes' as never }), "Invalid option 'isGlobal'"],
      [() => ConnmanModule.forRootAsync({ pools: ['a', 'a'], useFactory: () => ({}) }), "Invalid option 'pools'"],
      [() => ConnmanModule.forRootAsync({ pools: [''], useFactory: () => ({}) }), "Invalid option 'pools'"],
      [
        () => ConnmanModule.forRootAsync({ useFactory: () => ({}), inejct: [] } as never),
        "Unknown option 'inejct' for ConnmanModule.forRootAsync()",
      ],
      [() => ConnmanModule.forRootAsync({ useFactroy: () => ({}) } as never), "Unknown option 'useFactroy'"],
      [() => ConnmanModule.forRootAsync({} as never), 'needs exactly one of useFactory, useClass or useExisting'],
      [() => ConnmanModule.forRootAsync({ useFactory: 'x' } as never), "Invalid option 'useFactory'"],
      [() => ConnmanModule.forRootAsync({ useClass: class {}, inject: [] } as never), "Invalid option 'inject'"],
      [() => ConnmanModule.forRootAsync({ useFactory: () => ({}), imports: 'x' } as never), "Invalid option 'imports'"],
    ];
    for (const [attempt, says] of attempts) {
      let thrown: unknown;
      try {
        attempt();
      } catch (error) {
        thrown = error;
      }
      expect(isConnmanError(thrown, 'ERR_INVALID_OPTIONS')).toBe(true);
      expect((thrown as Error).message).toContain(says);
    }
  });

  describe('pool options', () => {
    it('names the registration a bad pool option came from', async () => {
      const registered = await compileError({
        imports: [ConnmanModule.registerPool({ name: 'feature', host: '127.0.0.1', port: 9, max: -1 })],
      });
      expect(registered.code).toBe('ERR_INVALID_OPTIONS');
      expect(registered.message).toMatch(
        /^ConnmanModule\.registerPool\('feature'\): Invalid option 'max' for pool 'feature'/,
      );
      const fromFactory = await compileError({
        imports: [
          ConnmanModule.registerPoolAsync({
            name: 'feature',
            useFactory: () => ({ host: '127.0.0.1', port: SECRET as never }),
          }),
        ],
      });
      expect(fromFactory.message).toMatch(
        /^ConnmanModule\.registerPoolAsync\('feature'\): Invalid option 'port' for pool 'feature': .*got a string \(ConfigService/,
      );
      expect(fromFactory.message).not.toContain(SECRET);
      const root = await compileError({
        imports: [ConnmanModule.forRootAsync({ useFactory: () => ({ pools: [{ name: 'r', host: '', port: 9 }] }) })],
      });
      expect(root.message).toMatch(/^ConnmanModule\.forRootAsync\(\): Invalid option 'host' for pool 'r'/);
    });

    it('says when a pool is invalid only with the defaults merged in', async () => {
      const error = await compileError({
        imports: [
          ConnmanModule.forRoot({ defaults: { max: 2 } }),
          ConnmanModule.registerPool({ name: 'big', host: '127.0.0.1', port: 9, min: 3 }),
        ],
      });
      expect(error.message).toBe(
        "ConnmanModule.registerPool('big'): Invalid option 'min' for pool 'big': expected at most max (2), got 3. " +
          "The pool's own options are valid alone: the value comes from ConnmanModule 'defaults', or from the two together.",
      );
    });

    it('accepts defaults that are valid once merged into each pool, and refuses the same defaults where a pool leaves them invalid', async () => {
      const isReply = (frame: Buffer): boolean => String(frame) !== 'PUSH';
      const framed = { name: 'a', host: '127.0.0.1', port: 9, min: 0, framing: lines() };
      const lowered = { name: 'b', host: '127.0.0.1', port: 9, min: 0, backoff: { initialDelayMillis: 10 } };
      const defaults = { isReply, backoff: { maxDelayMillis: 50 } };
      const { app } = await startApp(scope, {
        imports: [ConnmanModule.forRoot({ defaults, pools: [{ ...framed, backoff: lowered.backoff }] })],
      });
      expect(app.get(Connman).getPool('a').options.connection.backoff).toMatchObject({
        initialDelayMillis: 10,
        maxDelayMillis: 50,
      });
      const unframed = await compileError({
        imports: [ConnmanModule.forRoot({ defaults: { isReply }, pools: [{ ...lowered, name: 'c' }] })],
      });
      expect(unframed.message).toMatch(/^ConnmanModule\.forRoot\(\): Invalid option 'isReply' for pool 'c'/);
      const floor = await compileError({
        imports: [
          ConnmanModule.forRoot({ defaults: { backoff: { maxDelayMillis: 50 } }, pools: [{ ...framed, name: 'd' }] }),
        ],
      });
      expect(floor.message).toMatch(/Invalid option 'backoff\.maxDelayMillis' for pool 'd'/);
      expect(floor.message).toContain("the value comes from ConnmanModule 'defaults'");
    });

    it.each([
      ['null', null],
      ['a string', SECRET],
    ])('refuses a registerPoolAsync factory that returns %s', async (kind, value) => {
      const error = await compileError({
        imports: [ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => value as never })],
      });
      expect(error.message).toMatch(
        new RegExp(
          `^The factory of ConnmanModule\\.registerPoolAsync\\('f'\\) returned ${kind}; it must return the pool's options`,
        ),
      );
      expect(error.message).not.toContain(SECRET);
    });

    it('refuses a registerPoolAsync factory that names another pool', async () => {
      const error = await compileError({
        imports: [
          ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => ({ name: 'g', host: '127.0.0.1', port: 9 }) }),
        ],
      });
      expect(error.message).toBe(
        "The factory of ConnmanModule.registerPoolAsync('f') returned options for another pool name (not 'f'); leave 'name' out of the returned options, or make it 'f'.",
      );
    });

    it('refuses a useClass without createPoolOptions()', async () => {
      @Injectable()
      class NotAFactory {}
      const error = await compileError({
        imports: [ConnmanModule.registerPoolAsync({ name: 'f', useClass: NotAFactory as never })],
      });
      expect(error.message).toContain('has no createPoolOptions() method');
    });

    it('refuses a registration without a name, or without exactly one options source, at once', () => {
      const attempts: [() => unknown, RegExp][] = [
        [
          () => ConnmanModule.registerPool({ host: '127.0.0.1', port: 9 } as never),
          /^Invalid option 'name' for ConnmanModule\.registerPool\(\)/,
        ],
        [() => ConnmanModule.registerPool({ name: '' } as never), /^Invalid option 'name'/],
        [
          () => ConnmanModule.registerPoolAsync({ name: 7 } as never),
          /^Invalid option 'name' for ConnmanModule\.registerPoolAsync\(\)/,
        ],
        [
          () => ConnmanModule.registerPoolAsync({ name: 'f' }),
          /needs exactly one of useFactory, useClass or useExisting/,
        ],
        [
          () => ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => ({}), useClass: class {} as never }),
          /needs exactly one of useFactory, useClass or useExisting/,
        ],
        [
          () => ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => ({}), inejct: [] } as never),
          /^Unknown option 'inejct' for ConnmanModule\.registerPoolAsync\('f'\)/,
        ],
        [
          () => ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => ({}), imports: 'x' } as never),
          /^Invalid option 'imports'/,
        ],
        [
          () => ConnmanModule.registerPoolAsync({ name: 'f', useFactory: () => ({}), inject: 'x' } as never),
          /^Invalid option 'inject'/,
        ],
      ];
      for (const [attempt, says] of attempts) {
        let thrown: unknown;
        try {
          attempt();
        } catch (error) {
          thrown = error;
        }
        expect(isConnmanError(thrown, 'ERR_INVALID_OPTIONS')).toBe(true);
        expect((thrown as Error).message).toMatch(says);
      }
    });
  });

  it("sends the module's own log lines to the module logger", async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const logger = new RecordingLogger();
    @Injectable()
    class Failing {
      @OnConnect('p')
      connected(): void {
        throw new Error('handler bug');
      }
    }
    @Module({ providers: [Failing] })
    class Feature {}
    await startApp(scope, {
      imports: [ConnmanModule.forRoot({ logger, pools: [{ name: 'p', ...server.endpoint, min: 1 }] }), Feature],
    });
    expect(logger.errors).toEqual(["@OnConnect handler Failing.connected() for pool 'p' failed: handler bug"]);
  });
});
