// Reliability matrix, rows 26, 32 and 42 through the Nest layer.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import { Injectable, Module, type ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Connman,
  ConnmanModule,
  InjectPool,
  OnData,
  isConnmanError,
  lines,
  type ConnectionPool,
  type ConnmanModuleOptions,
} from 'nestjs-connman';
import { until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { RecordingNestLogger, startApp } from '../nest/nest-helpers.js';
import { Rig, expectHandlesBackTo, liveHandles, stopwatch } from './kit.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } };
const MARGIN = 2000;

describe('reliability matrix: the Nest layer', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  /** The error compiling and initialising `metadata` fails with, and what the app logged; undefined if it starts. */
  async function startError(metadata: ModuleMetadata): Promise<Error | undefined> {
    const logger = new RecordingNestLogger();
    try {
      const moduleRef = await Test.createTestingModule(metadata).setLogger(logger).compile();
      const app = moduleRef.createNestApplication({ logger });
      scope.defer(() => app.close());
      await app.init();
    } catch (error) {
      return error as Error;
    }
    return undefined;
  }

  describe('row 32: app shutdown with open pools', () => {
    it('row 32: app.close() with open pools (leases, requests and heartbeats in flight) resolves and leaves no open handle', async () => {
      const upstream = await rig.server({
        handler: (socket) => {
          let pending = '';
          socket.on('data', (chunk: Buffer) => {
            pending += chunk.toString();
            let i: number;
            while ((i = pending.indexOf('\n')) >= 0) {
              const line = pending.slice(0, i);
              pending = pending.slice(i + 1);
              socket.write(line === 'PING' ? 'PONG\n' : `${line}\n`);
            }
          });
        },
      });
      const baseline = liveHandles();
      const timers = rig.timers();

      @Injectable()
      class Feature {
        constructor(@InjectPool('feature') readonly pool: ConnectionPool) {}
      }
      @Module({
        imports: [ConnmanModule.registerPool({ name: 'feature', ...upstream.endpoint, min: 1, ...quick })],
        providers: [Feature],
      })
      class FeatureModule {}

      const { app } = await startApp(scope, {
        imports: [
          ConnmanModule.forRoot({
            shutdownTimeoutMillis: 5000,
            defaults: { ...quick, framing: lines(), heartbeat: { intervalMillis: 20, payload: 'PING\n' } },
            pools: [
              { name: 'a', ...upstream.endpoint, min: 2, max: 3 },
              { name: 'b', ...upstream.endpoint, min: 2, max: 2 },
            ],
          }),
          FeatureModule,
        ],
      });
      const connman = app.get(Connman);
      const a = connman.getPool('a');
      const lease = await a.acquire();
      const answered = connman.getPool('b').request('in flight\n');
      const closing = app.close();
      expect(String(await answered)).toBe('in flight');
      lease.release();
      await closing;
      for (const name of ['a', 'b', 'feature']) expect(connman.hasPool(name)).toBe(false);
      expect(a.state).toBe('closed');
      await expectHandlesBackTo(baseline);
      expect(await timers.pending()).toBe(0);
    });

    it('row 32: app.close() with a lease never released resolves after shutdownTimeoutMillis, and leaves nothing', async () => {
      const upstream = await rig.server();
      const baseline = liveHandles();
      const { app } = await startApp(scope, {
        imports: [
          ConnmanModule.forRoot({
            shutdownTimeoutMillis: 100,
            pools: [{ name: 'stuck', ...upstream.endpoint, min: 1, max: 1, ...quick }],
          }),
        ],
      });
      const lease = await app.get(Connman).getPool('stuck').acquire();
      const elapsed = stopwatch();
      await app.close();
      expect(elapsed()).toBeGreaterThanOrEqual(99);
      expect(elapsed()).toBeLessThan(100 + MARGIN);
      expect(lease.socket.destroyed).toBe(true);
      await expectHandlesBackTo(baseline);
    });

    it('row 32: app.close() while pools reconnect to a peer that is down resolves, with no reconnect afterwards and no timer left', async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      const timers = rig.timers();
      const { app } = await startApp(scope, {
        imports: [
          ConnmanModule.forRoot({
            pools: [{ name: 'down', ...proxy.endpoint, min: 2, max: 2, backoff: { initialDelayMillis: 50 } }],
          }),
        ],
      });
      const pool = app.get(Connman).getPool('down');
      await proxy.down();
      await until(pool, 'createError', () => pool.stats().connected === 0);
      await app.close();
      expect(await timers.pending()).toBe(0);
      const accepted = proxy.accepted;
      await proxy.up();
      expect(proxy.accepted).toBe(accepted);
    });
  });

  describe('row 26: user handler throws (Nest)', () => {
    it('row 26: an @OnData handler that throws is logged through the Nest logger, and the pool keeps serving', async () => {
      const upstream = await rig.server();
      @Injectable()
      class Handlers {
        @OnData('echo')
        onData(): void {
          throw new Error('boom in a Nest handler');
        }
      }
      const { app, logger } = await startApp(scope, {
        imports: [ConnmanModule.forRoot({ pools: [{ name: 'echo', ...upstream.endpoint, min: 1, max: 1, ...quick }] })],
        providers: [Handlers],
      });
      const pool = app.get(Connman).getPool('echo');
      for (let i = 0; i < 3; i++) {
        const lease = await pool.acquire();
        const logged = logger.lines.length;
        lease.socket.write(`ping ${i}`);
        await until(lease.connection, 'data', () => logger.lines.length > logged);
        lease.release();
      }
      expect(logger.messages('error').filter((m) => m.includes('boom in a Nest handler'))).toHaveLength(3);
      expect(pool.stats()).toMatchObject({ connected: 1, idle: 1 });
    });
  });

  describe('row 42: bad module options', () => {
    it.each([
      [
        'a nested pool option',
        { pools: [{ name: 'p', host: '127.0.0.1', port: 1, backoff: { factor: 'x' } }] },
        'backoff.factor',
      ],
      [
        'a nested endpoint',
        { pools: [{ name: 'p', endpoints: [{ host: '127.0.0.1', port: 'x' }] }] },
        'endpoints[0].port',
      ],
      ['an unknown pool key', { pools: [{ name: 'p', host: '127.0.0.1', port: 1, maxx: 1 }] }, 'maxx'],
      ['a nested default', { defaults: { heartbeat: { intervalMillis: -1, payload: 'x' } } }, 'defaults.heartbeat'],
      ['a module key', { shutdownTimeoutMillis: 'soon' }, 'shutdownTimeoutMillis'],
      ['an unknown module key', { pool: [] }, 'pool'],
    ])(
      'row 42: %s fails the app at startup with ERR_INVALID_OPTIONS naming it, before anything connects',
      async (_what, options, label) => {
        const upstream = await rig.server();
        const error = await startError({
          imports: [ConnmanModule.forRoot(options as unknown as ConnmanModuleOptions)],
        });
        expect(isConnmanError(error, 'ERR_INVALID_OPTIONS')).toBe(true);
        expect(error!.message).toContain(`'${label}`);
        expect(error).not.toBeInstanceOf(TypeError);
        expect(upstream.accepted).toBe(0);
      },
    );

    it('row 42: a bad option of a registered pool fails the app at startup, naming it, before anything connects', async () => {
      const upstream = await rig.server();
      const error = await startError({
        imports: [
          ConnmanModule.registerPool({ name: 'r', ...upstream.endpoint, heartbeat: { intervalMillis: 10 } } as never),
        ],
      });
      expect(isConnmanError(error, 'ERR_INVALID_OPTIONS')).toBe(true);
      expect(error!.message).toContain("'heartbeat.payload'");
      expect(upstream.accepted).toBe(0);
    });
  });
});
