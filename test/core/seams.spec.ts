import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConnectionPool, ConnmanError, PersistentConnection, lines, type PoolOptions } from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { RecordingLogger, flushIo, useScope } from '../helpers/resources.js';
import { TestServer, refusedPort } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error as ConnmanError,
  );
}

/** A validate() whose verdicts the test gives one by one; `started` resolves when one is asked for. */
class Gate {
  private pending: ((ok: boolean) => void)[] = [];
  private waiting: (() => void)[] = [];
  asked = 0;
  /** Once set, every later validation passes at once. */
  approveAll = false;
  readonly validate = (): Promise<boolean> => {
    this.asked++;
    if (this.approveAll) return Promise.resolve(true);
    for (const w of this.waiting.splice(0)) w();
    return new Promise((resolve) => this.pending.push(resolve));
  };
  started(): Promise<void> {
    return this.pending.length > 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }
  answer(ok: boolean): void {
    this.pending.shift()?.(ok);
  }
}

describe('seams between mechanisms', () => {
  const scope = useScope();

  async function server(handler?: (socket: Socket) => void): Promise<TestServer> {
    const s = await TestServer.start(handler ? { handler } : {});
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'> & { name?: string }): ConnectionPool {
    const p = new ConnectionPool({ name: 'seam', ...quick, ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  describe("a waiter's life", () => {
    it('close() settles a waiter whose connection is being validated at once, and no validation timer outlives it', async () => {
      const upstream = await server();
      const gate = new Gate();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, validate: gate.validate, validateTimeoutMillis: 60_000 });
      await p.open();
      const waiting = rejection(p.acquire({ timeoutMillis: 60_000 }));
      await gate.started();
      await p.close({ timeoutMillis: 0 });
      const error = await waiting;
      expect(error.code).toBe('ERR_POOL_CLOSED');
      gate.answer(true); // the late verdict changes nothing
      await flushIo();
      expect(p.stats()).toMatchObject({ size: 0, leased: 0, waiting: 0 });
    });

    it('an abort during validation rejects at once, and the validated connection goes to the next waiter', async () => {
      const upstream = await server();
      const gate = new Gate();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, validate: gate.validate });
      await p.open();
      const controller = new AbortController();
      const first = rejection(p.acquire({ signal: controller.signal }));
      await gate.started();
      const second = p.acquire();
      controller.abort();
      expect((await first).code).toBe('ERR_ACQUIRE_ABORTED');
      expect(gate.asked).toBe(1);
      gate.answer(true);
      const lease = await second;
      expect(lease.socket).toBe(p.connections[0].socket);
      lease.release();
    });

    it('the deadline of a waiter whose connection is being validated is kept, whatever the validation does', async () => {
      const upstream = await server();
      const gate = new Gate();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, validate: gate.validate, validateTimeoutMillis: 60_000 });
      await p.open();
      const started = Date.now();
      const error = await rejection(p.acquire({ timeoutMillis: 80 }));
      expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(1000);
      gate.approveAll = true;
      gate.answer(true);
      const lease = await p.acquire();
      lease.release();
    });

    it('a waiter settles exactly once: a grant racing its timeout never resolves after rejecting', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const results: string[] = [];
      const waiters = Array.from({ length: 50 }, (_, i) =>
        p.acquire({ timeoutMillis: i % 2 === 0 ? 1 : 60_000 }).then(
          (lease) => {
            results.push('ok');
            lease.release();
          },
          (error: ConnmanError) => void results.push(error.code),
        ),
      );
      await Promise.all(waiters.filter((_, i) => i % 2 === 0)); // the 1 ms ones time out
      held.release();
      await Promise.all(waiters);
      expect(results.filter((r) => r === 'ok')).toHaveLength(25);
      expect(results.filter((r) => r === 'ERR_ACQUIRE_TIMEOUT')).toHaveLength(25);
      expect(p.stats()).toMatchObject({ waiting: 0, leased: 0, idle: 1 });
    });
  });

  describe("a lease's life", () => {
    it('close() ends leak-detection timers of leases still held; a closed pool logs nothing afterwards', async () => {
      const upstream = await server();
      const logger = new RecordingLogger();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, leakDetectionThresholdMillis: 60_000, logger });
      const lease = await p.acquire();
      await p.close({ timeoutMillis: 0 });
      // The leak timer is gone (the scope fails a test that leaves a timer behind).
      expect(() => lease.release()).not.toThrow();
      expect(logger.warnings).toEqual([]);
      expect(logger.errors).toEqual([]);
    });

    it.each([
      ['destroys', (s: Socket) => s.destroy()],
      ['ends', (s: Socket) => s.end()],
    ])(
      'a connection whose socket the borrower %s is never handed to the next waiter; it is replaced',
      async (_verb, kill) => {
        const upstream = await server();
        const resets: Error[] = [];
        const p = pool({ ...upstream.endpoint, min: 1, max: 1, callbacks: { onReset: (e) => void resets.push(e) } });
        const lease = await p.acquire();
        const dead = lease.socket;
        const next1 = p.acquire();
        kill(dead as Socket);
        lease.release();
        const fresh = await next1;
        expect(fresh.socket).not.toBe(dead);
        expect(fresh.socket.destroyed).toBe(false);
        expect(resets).toHaveLength(1);
        expect((resets[0] as ConnmanError).code).toBe('ERR_CONNECTION_CLOSED');
        fresh.release();
      },
    );

    it('a connection whose idle socket a user destroyed (through pick()) is never lent', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      await p.open();
      const picked = p.pick();
      const dead = picked.socket!;
      dead.destroy();
      const lease = await p.acquire();
      expect(lease.socket).not.toBe(dead);
      expect(lease.socket.destroyed).toBe(false);
      lease.release();
    });

    it('inside a reset callback the connection that reset is no longer idle: acquire() gets a live socket', async () => {
      const upstream = await server();
      let inside: Promise<ConnmanError | { socket: unknown; destroyed: boolean }> | undefined;
      const p = pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        callbacks: {
          onReset: () => {
            inside ??= p.acquire({ timeoutMillis: 2000 }).then(
              (lease) => {
                const seen = { socket: lease.socket, destroyed: lease.socket.destroyed };
                lease.release();
                return seen;
              },
              (error: ConnmanError) => error,
            );
          },
        },
      });
      await p.open();
      const victim = p.connections[0];
      victim.reset();
      const seen = (await inside) as { socket: unknown; destroyed: boolean };
      expect(seen.socket).toBeDefined();
      expect(seen.destroyed).toBe(false);
      expect(seen.socket).not.toBe(victim.socket);
    });

    it.each(['before', 'after'])(
      'a peer reset during use() is a reset (onReset and the reset event fire) when the borrower destroys the lease %s the close event',
      async (when) => {
        const upstream = await server();
        const resets: string[] = [];
        const p = pool({
          ...upstream.endpoint,
          min: 1,
          max: 1,
          callbacks: { onReset: (e) => void resets.push(`onReset:${(e as NodeJS.ErrnoException).code}`) },
        });
        p.on('reset', (e) => void resets.push(`event:${(e as NodeJS.ErrnoException).code}`));
        await p.open();
        const outcome = p.use(
          (socket, lease) =>
            new Promise<void>((_resolve, reject) => {
              if (when === 'before') {
                // The borrower's own error listener destroys the lease at once, before 'close'.
                socket.on('error', (error) => {
                  lease.destroy(error);
                  reject(error);
                });
              } else {
                socket.once('close', () => reject(new Error('lost')));
                socket.on('error', () => undefined);
              }
              void upstream.nextConnection().then((s) => s.resetAndDestroy());
            }),
        );
        await rejection(outcome);
        expect(resets.filter((r) => r.startsWith('onReset'))).toHaveLength(1);
        expect(resets.filter((r) => r.startsWith('event'))).toHaveLength(1);
        await until(p, 'connect', () => p.stats().connected === 1);
      },
    );

    it('open() against a TLS peer that accepts and never answers rejects with the attempt error as cause', async () => {
      const upstream = await server(() => undefined); // plain TCP, silent: the TLS handshake never completes
      const p = pool({
        ...upstream.endpoint,
        tls: { ca: selfSigned.cert, servername: 'localhost' },
        min: 1,
        connectTimeoutMillis: 120,
      });
      const error = await rejection(p.open());
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect((error.cause as ConnmanError | undefined)?.code).toBe('ERR_CONNECT_TIMEOUT');
    });

    it('after disconnect() no callback runs, even while the socket lingers to flush writes', async () => {
      const upstream = await server((socket) => {
        socket.on('data', () => socket.write('late'));
      });
      const calls: string[] = [];
      const conn = new PersistentConnection(
        upstream.endpoint,
        {
          onData: () => void calls.push('data'),
          onReset: () => void calls.push('reset'),
          onConnect: () => void calls.push('connect'),
        },
        quick,
      );
      await conn.waitUntilConnected(2000);
      const socket = conn.socket!;
      socket.write(Buffer.alloc(8 * 1024 * 1024)); // leaves bytes to flush
      const lingering = socket.writableLength > 0;
      await conn.disconnect();
      expect(calls).toEqual(['connect']);
      expect(lingering).toBe(true);
    });
  });

  describe('pinned connections and closing', () => {
    it('destroying a lease whose pinned connection already reconnected under it offers the new socket again', async () => {
      const upstream = await server();
      const p = pool({ max: 1 });
      const conn = p.addConnection(upstream.endpoint);
      await conn.waitUntilConnected(2000);
      const lease = await p.acquire();
      upstream.resetAll();
      await next(conn, 'reconnect'); // the pinned connection is back, still held by the lease
      expect(conn.socket).not.toBe(lease.socket);
      lease.destroy();
      const again = await p.acquire({ timeoutMillis: 2000 });
      expect(again.socket).toBe(conn.socket);
      again.release();
    });

    it('pick() refuses with ERR_POOL_CLOSED once close() started, even while a request drains', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      const lease = await p.acquire();
      const closing = p.close({ timeoutMillis: 5000 });
      expect(() => p.pick()).toThrow(expect.objectContaining({ code: 'ERR_POOL_CLOSED' }));
      lease.release();
      await closing;
    });
  });

  describe('events', () => {
    it('the acquire event carries how long the lease was waited for: 0 from idle, the wait for a waiter', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const waits: number[] = [];
      p.on('acquire', (_lease, waitedMillis) => void waits.push(waitedMillis));
      await p.open();
      const first = await p.acquire();
      expect(waits).toEqual([0]);
      const started = performance.now();
      const second = p.acquire();
      first.socket.write('x'); // a round trip on the held lease, then release
      await next(first.socket, 'data');
      first.release();
      const lease = await second;
      const elapsed = performance.now() - started;
      expect(waits[1]).toBeGreaterThan(0);
      expect(waits[1]).toBeLessThanOrEqual(elapsed + 1);
      lease.release();
    });
  });

  describe('user code returning the unexpected', () => {
    it('an isReply that returns something else than true or false (async, or no return) resets with ERR_PROTOCOL', async () => {
      const upstream = await server((socket) => socket.on('data', (chunk) => socket.write(chunk)));
      const conn = new PersistentConnection(upstream.endpoint, undefined, {
        ...quick,
        framing: lines(),
        isReply: (async () => true) as unknown as (frame: Buffer) => boolean,
      });
      scope.defer(() => conn.disconnect());
      const request = rejection(conn.request('x\n'));
      const [error] = (await next(conn, 'reset')) as [ConnmanError];
      expect(error.code).toBe('ERR_PROTOCOL');
      expect(error.message).toMatch(/true or false/);
      expect((await request).code).toBe('ERR_CONNECTION_CLOSED');
    });

    it('a peer that floods a handshake with frames it does not read fails the attempt with ERR_PROTOCOL', async () => {
      const upstream = await server((socket) => socket.write('x\n'.repeat(12_000)));
      const conn = new PersistentConnection(upstream.endpoint, undefined, {
        ...quick,
        connectTimeoutMillis: 10_000,
        framing: lines(),
        handshake: () => new Promise<void>(() => undefined), // reads nothing, never settles
      });
      scope.defer(() => conn.disconnect());
      const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
      expect(error.code).toBe('ERR_PROTOCOL');
      expect(error.message).toMatch(/flooded the handshake/);
    });

    it('a handshake result whose then getter throws fails the attempt with ERR_HANDSHAKE_FAILED', async () => {
      const upstream = await server();
      const conn = new PersistentConnection(upstream.endpoint, undefined, {
        ...quick,
        handshake: () => ({
          get then(): never {
            throw new Error('then getter');
          },
        }),
      });
      scope.defer(() => conn.disconnect());
      const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
      expect(error.code).toBe('ERR_HANDSHAKE_FAILED');
      expect((error.cause as Error).message).toBe('then getter');
    });
  });

  describe('connect errors', () => {
    it('several addresses that all fail (autoSelectFamily) give one typed ERR_CONNECT_FAILED that keeps each error', async () => {
      const port = await refusedPort();
      const lookup = (_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
        if (options.all) {
          callback(null, [
            { address: '127.0.0.1', family: 4 },
            { address: '::1', family: 6 },
          ]);
        } else {
          callback(null, '127.0.0.1', 4);
        }
      };
      const conn = new PersistentConnection({ host: 'two-addresses.test', port }, undefined, {
        ...quick,
        socketOptions: { lookup: lookup as never, autoSelectFamily: true },
      });
      scope.defer(() => conn.disconnect());
      const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
      expect(error.code).toBe('ERR_CONNECT_FAILED');
      expect(error.message).toContain(`127.0.0.1:${port} (ECONNREFUSED)`);
      expect(error.message).toContain(`::1:${port} (ECONNREFUSED)`);
      const cause = error.cause as AggregateError;
      expect(cause.errors.map((e: NodeJS.ErrnoException) => e.code)).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    });
  });

  describe('handlers and housekeeping', () => {
    it("addHandlers()' remover takes the handlers off connections created after it was called", async () => {
      const upstream = await server((socket) => socket.write('hi'));
      const seen: string[] = [];
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const remove = p.addHandlers({ onData: (chunk) => void seen.push(chunk.toString()) });
      await p.open(); // the connection is created after addHandlers()
      await until(p.connections[0], 'data', () => seen.length === 1);
      remove();
      p.connections[0].reset();
      await next(p, 'reconnect');
      await next(p.connections[0], 'data');
      expect(seen).toEqual(['hi']);
    });

    it('the idle reaper does not stop at a pinned connection: idle ones after it are closed past idleTimeoutMillis', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 0, max: 4, idleTimeoutMillis: 40, reapIntervalMillis: 10 });
      const pinned = p.addConnection(upstream.endpoint);
      await until(p, 'connect', () => pinned.connected);
      // Lease the pinned one first, then three more, and release the pinned one first: it is the oldest idle.
      const leases = [await p.acquire(), await p.acquire(), await p.acquire()];
      for (const lease of leases) lease.release();
      await until(p, 'destroy', () => p.size === 1);
      expect(p.connections).toEqual([pinned]);
    });
  });
});
