import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { inspect } from 'node:util';
import { ConnectionPool, ConnmanError, Lease, type PoolOptions } from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer, refusedPort } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 10, maxDelayMillis: 50 } } as const;

async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as ConnmanError,
  );
}

describe('ConnectionPool', () => {
  const scope = useScope();

  async function server(...args: Parameters<typeof TestServer.start>): Promise<TestServer> {
    const s = await TestServer.start(...args);
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'> & { name?: string }): ConnectionPool {
    const p = new ConnectionPool({ name: 'test', ...quick, ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  describe('opening', () => {
    it('connects nothing until open(), then resolves once min connections are up', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 3, max: 5 });
      expect(p.stats()).toMatchObject({ size: 0, state: 'new' });
      expect(upstream.accepted).toBe(0);
      await p.open();
      expect(p.stats()).toMatchObject({
        size: 3,
        connected: 3,
        idle: 3,
        leased: 0,
        pending: 0,
        waiting: 0,
        state: 'open',
      });
    });

    it('open() rejects after its timeout with the last connect error as cause, and keeps trying', async () => {
      const port = await refusedPort();
      const p = pool({ host: '127.0.0.1', port, min: 1 });
      const error = await rejection(p.open({ timeoutMillis: 100 }));
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(error.pool).toBe('test');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(error.message).toContain(`127.0.0.1:${port}`);
      const failures = p.stats().endpoints[0].failures;
      await next(p, 'createError');
      expect(p.stats().endpoints[0].failures).toBeGreaterThan(failures);
    });

    it('open({ wait: false }) resolves at once and a first acquire() on a new pool opens it', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1 });
      const lease = await p.acquire();
      expect(p.state).toBe('open');
      lease.release();
      const q = pool({ ...upstream.endpoint, name: 'other', min: 2 });
      await q.open({ wait: false });
      expect(q.stats().connected).toBeLessThan(2);
    });
  });

  describe('leases', () => {
    it('lends each connection to one borrower at a time', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      const a = await p.acquire();
      const b = await p.acquire();
      expect(a.socket).not.toBe(b.socket);
      expect(p.stats()).toMatchObject({ leased: 2, idle: 0 });
      expect(p.tryAcquire()).toBeUndefined();
      a.release();
      const c = p.tryAcquire();
      expect(c?.socket).toBe(a.socket);
      b.release();
      c!.release();
      expect(p.stats()).toMatchObject({ leased: 0, idle: 2 });
    });

    it('serves waiters first come, first served, and a release goes straight to the oldest waiter', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      await p.open();
      const first = await p.acquire();
      const order: number[] = [];
      const waits = [1, 2, 3].map((n) =>
        p.acquire().then((lease) => {
          order.push(n);
          return lease;
        }),
      );
      expect(p.stats().waiting).toBe(3);
      first.release();
      const l1 = await waits[0];
      expect(l1.socket).toBe(first.socket);
      l1.release();
      (await waits[1]).release();
      (await waits[2]).release();
      expect(order).toEqual([1, 2, 3]);
      expect(p.stats()).toMatchObject({ waiting: 0, leased: 0, idle: 1 });
    });

    it('rejects a waiting acquire with ERR_ACQUIRE_TIMEOUT after acquireTimeoutMillis and leaves no waiter behind', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, acquireTimeoutMillis: 80 });
      await p.open();
      const held = await p.acquire();
      const started = Date.now();
      const error = await rejection(p.acquire());
      const took = Date.now() - started;
      expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(error.message).toMatch(/size 1\/1, leased 1, idle 0, waiting 1\)/);
      expect(error.cause).toBeUndefined();
      expect(took).toBeGreaterThanOrEqual(75);
      expect(took).toBeLessThan(1000);
      expect(p.stats().waiting).toBe(0);
      held.release();
    });

    it('honours a per-call timeoutMillis', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const error = await rejection(p.acquire({ timeoutMillis: 20 }));
      expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      held.release();
    });

    it('times out waiters at their own deadlines, per-call and pool timeouts mixed, and serves the rest', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, acquireTimeoutMillis: 150 });
      const held = await p.acquire();
      const started = Date.now();
      const outcomes: { name: string; code: string; after: number }[] = [];
      const track = (name: string, promise: Promise<Lease>) =>
        promise.then(
          (lease) => {
            outcomes.push({ name, code: 'served', after: Date.now() - started });
            lease.release();
          },
          (error: ConnmanError) => void outcomes.push({ name, code: error.code, after: Date.now() - started }),
        );
      const all = [
        track('pool-a', p.acquire()),
        track('own-50', p.acquire({ timeoutMillis: 50 })),
        track('pool-b', p.acquire()),
        track('own-100', p.acquire({ timeoutMillis: 100 })),
        track('own-5000', p.acquire({ timeoutMillis: 5000 })),
      ];
      await Promise.all(all.slice(0, 4));
      held.release();
      await all[4];
      expect(outcomes.map((o) => `${o.name}:${o.code}`)).toEqual([
        'own-50:ERR_ACQUIRE_TIMEOUT',
        'own-100:ERR_ACQUIRE_TIMEOUT',
        'pool-a:ERR_ACQUIRE_TIMEOUT',
        'pool-b:ERR_ACQUIRE_TIMEOUT',
        'own-5000:served',
      ]);
      const deadline = { 'own-50': 50, 'own-100': 100, 'pool-a': 150, 'pool-b': 150 } as Record<string, number>;
      for (const o of outcomes.slice(0, 4)) {
        expect(o.after).toBeGreaterThanOrEqual(deadline[o.name] - 2);
        expect(o.after).toBeLessThan(deadline[o.name] + 1000);
      }
      expect(p.stats().waiting).toBe(0);
    });

    it('hands a released connection to the next waiter or to idle when its waiter already timed out; counts unchanged', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const gone = rejection(p.acquire({ timeoutMillis: 10 }));
      const staying = p.acquire({ timeoutMillis: 5000 });
      expect((await gone).code).toBe('ERR_ACQUIRE_TIMEOUT');
      held.release();
      const lease = await staying;
      expect(lease.socket).toBe(held.socket);
      lease.release();
      expect(p.stats()).toMatchObject({ size: 1, idle: 1, leased: 0, waiting: 0 });
    });

    it('rejects at once with ERR_TOO_MANY_WAITERS when the wait list is full', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, maxWaitingClients: 2 });
      const held = await p.acquire();
      const waiting = [p.acquire(), p.acquire()];
      const error = await rejection(p.acquire());
      expect(error.code).toBe('ERR_TOO_MANY_WAITERS');
      expect(p.stats().waiting).toBe(2);
      held.release();
      for (const w of waiting) (await w).release();
    });

    it('throws ERR_NOT_LEASED on a double or foreign release, with no state change', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      const other = pool({ ...upstream.endpoint, name: 'other', min: 1, max: 1 });
      const lease = await p.acquire();
      lease.release();
      expect(() => lease.release()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => lease.destroy()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      const foreign = await other.acquire();
      expect(() => p.release(foreign)).toThrow(/not a lease of pool 'test'/);
      expect(() => p.release({} as Lease)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      foreign.release();
      await p.open();
      expect(p.stats()).toMatchObject({ idle: 2, leased: 0 });
      const [a, b] = await Promise.all([p.acquire(), p.acquire()]);
      expect(a.socket).not.toBe(b.socket);
      a.release();
      b.release();
    });

    it('emits acquire and release events with the lease, to listeners added at any time', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      (await p.acquire()).release();
      const seen: string[] = [];
      const onAcquire = (lease: Lease) => void seen.push(`acquire:${lease.released}`);
      p.on('acquire', onAcquire);
      p.once('release', (lease) => void seen.push(`release:${lease.released}`));
      (await p.acquire()).release();
      p.off('acquire', onAcquire);
      (await p.acquire()).release();
      expect(seen).toEqual(['acquire:false', 'release:true']);
    });

    it('use() releases after the callback and destroys the connection when it throws', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const first = await p.use(async (socket) => socket);
      expect(p.stats()).toMatchObject({ leased: 0, idle: 1 });
      const boom = new Error('protocol error');
      await expect(p.use(() => Promise.reject(boom))).rejects.toBe(boom);
      expect(first.destroyed).toBe(true);
      const [connected] = await next<[unknown]>(p, 'connect');
      expect(connected).toBeDefined();
      const again = await p.use(async (socket) => socket);
      expect(again).not.toBe(first);
    });

    it('releases on `await using` scope exit', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      {
        await using lease = await p.acquire();
        expect(lease.released).toBe(false);
        expect(p.stats().leased).toBe(1);
      }
      expect(p.stats()).toMatchObject({ leased: 0, idle: 1 });
    });

    it('rejects with ERR_ACQUIRE_ABORTED, removes the waiters and adds one listener per signal for 1000 acquires', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const controller = new AbortController();
      const listeners: unknown[] = [];
      const add = controller.signal.addEventListener.bind(controller.signal);
      controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
        listeners.push(args[0]);
        return add(...args);
      }) as typeof add;
      const waits = Array.from({ length: 1000 }, () => rejection(p.acquire({ signal: controller.signal })));
      expect(listeners).toHaveLength(1);
      expect(p.stats().waiting).toBe(1000);
      controller.abort(new Error('user gave up'));
      const errors = await Promise.all(waits);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_ACQUIRE_ABORTED']));
      expect((errors[0].cause as Error).message).toBe('user gave up');
      expect(p.stats().waiting).toBe(0);
      await expect(rejection(p.acquire({ signal: controller.signal }))).resolves.toMatchObject({
        code: 'ERR_ACQUIRE_ABORTED',
      });
      held.release();
    });

    it('keeps socket listener counts constant over 10,000 borrow/release cycles', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      const sockets = p.connections.map((c) => c.socket!);
      const counts = (s: Socket): number[] => s.eventNames().map((e) => s.listenerCount(e));
      const before = sockets.map(counts);
      for (let i = 0; i < 10_000; i++) {
        const [a, b] = await Promise.all([p.acquire(), p.acquire()]);
        a.release();
        b.release();
      }
      expect(sockets.map(counts)).toEqual(before);
      expect(p.stats()).toMatchObject({ size: 2, idle: 2, leased: 0, waiting: 0 });
    });
  });

  describe('faults', () => {
    it('never hands a connection that was reset under a borrower to anyone else, and refills the pool', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      const waiting = p.acquire();
      const errored = next(lease.socket, 'close');
      upstream.resetAll();
      await errored;
      const replacement = await waiting;
      expect(replacement.socket).not.toBe(lease.socket);
      expect(replacement.socket.destroyed).toBe(false);
      lease.release();
      replacement.release();
      expect(p.stats()).toMatchObject({ size: 1, idle: 1, leased: 0 });
    });

    it('survives an RST on idle connections with no listener of the user, and heals', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      upstream.resetAll();
      await next(p, 'reset');
      await until(p, 'reconnect', () => p.stats().connected === 2);
      expect(p.stats()).toMatchObject({ size: 2, connected: 2, idle: 2 });
    });

    it('destroys a socket the peer half-closed and reconnects', async () => {
      const upstream = await server({ allowHalfOpen: true });
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, socketOptions: { allowHalfOpen: true } });
      await p.open();
      const socket = p.connections[0].socket!;
      (await upstream.nextConnection()).end();
      await next(p, 'reconnect');
      expect(socket.destroyed).toBe(true);
    });

    it('rejects every waiter at its deadline with the last connect error as cause while the peer is down', async () => {
      const port = await refusedPort();
      const p = pool({ host: '127.0.0.1', port, min: 0, max: 2, acquireTimeoutMillis: 150 });
      const started = Date.now();
      const errors = await Promise.all([1, 2, 3].map(() => rejection(p.acquire())));
      for (const error of errors) {
        expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
        expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
        expect(error.message).toContain('last connect error');
      }
      expect(Date.now() - started).toBeLessThan(1000);
      // Attempts followed the create backoff (10, 20, 40, 50 ms...), at most 2 at once: not a hot loop.
      expect(p.stats().endpoints[0].failures).toBeLessThan(30);
      expect(p.stats().waiting).toBe(0);
    });

    it('serves waiters as soon as the peer comes back, within their deadlines', async () => {
      const upstream = await server();
      const port = upstream.port;
      await upstream.stop();
      const p = pool({ host: '127.0.0.1', port, min: 1, max: 2, acquireTimeoutMillis: 5000 });
      const waits = [p.acquire(), p.acquire()];
      await next(p, 'createError');
      await upstream.listen();
      const leases = await Promise.all(waits);
      expect(leases[0].socket).not.toBe(leases[1].socket);
      for (const lease of leases) lease.release();
    });

    it('when one connection reaches the returning peer, the others retry at once instead of waiting out their backoff', async () => {
      const upstream = await server();
      const port = upstream.port;
      const backoff = { initialDelayMillis: 20, maxDelayMillis: 10_000, factor: 10, jitter: 0 };
      const p = pool({ host: '127.0.0.1', port, min: 2, max: 2, backoff });
      await p.open();
      await upstream.stop();
      // Lost, then one failed retry each: the next retries are 2 s away.
      await until(p, 'createError', () => p.connections.every((c) => c.failedAttempts >= 2));
      await upstream.listen();
      const back = Date.now();
      p.connections[0].retrySoon(0);
      await until(p, 'reconnect', () => p.stats().connected === 2);
      expect(Date.now() - back).toBeLessThan(1000);
    });

    it('keeps a connection that finished connecting after its waiter left, never exceeding max', async () => {
      const upstream = await server();
      // Name resolution answers after 30 ms, so the connect finishes well after the 5 ms waiter left.
      const slowLookup = ((
        _host: string,
        options: { all?: boolean },
        callback: (e: null, ...result: unknown[]) => void,
      ) => {
        const answer = options.all ? [[{ address: '127.0.0.1', family: 4 }]] : ['127.0.0.1', 4];
        setTimeout(() => callback(null, ...answer), 30);
      }) as never;
      const p = pool({
        host: 'upstream.test',
        port: upstream.port,
        min: 0,
        max: 1,
        socketOptions: { lookup: slowLookup },
      });
      const connected = next(p, 'connect');
      const gone = rejection(p.acquire({ timeoutMillis: 5 }));
      expect((await gone).code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(p.stats()).toMatchObject({ size: 1, connected: 0, waiting: 0 });
      await connected;
      expect(p.stats()).toMatchObject({ size: 1, idle: 1, waiting: 0 });
      const lease = await p.acquire();
      lease.release();
      expect(p.stats().size).toBe(1);
    });

    it('bounds concurrent creates and the pool size under a burst of acquires', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 0, max: 4, maxConcurrentCreates: 2 });
      const sizes: number[] = [];
      p.on('connect', () => sizes.push(p.stats().size));
      const used = new Set<Socket>();
      await Promise.all(
        Array.from({ length: 20 }, () =>
          p.acquire().then((lease) => {
            used.add(lease.socket);
            // Hold it across a turn of the event loop so that the burst needs more connections.
            setImmediate(() => lease.release());
          }),
        ),
      );
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
      expect(used.size).toBeLessThanOrEqual(4);
      expect(upstream.accepted).toBe(p.size);
      expect(p.size).toBeLessThanOrEqual(4);
    });
  });

  describe('validation', () => {
    it('replaces a connection that validate() rejects, within the caller deadline', async () => {
      const upstream = await server();
      const verdicts = [false];
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, validate: () => verdicts.shift() ?? true });
      await p.open();
      const first = p.connections[0].socket;
      const lease = await p.acquire({ timeoutMillis: 2000 });
      expect(lease.socket).not.toBe(first);
      expect(first?.destroyed).toBe(true);
      lease.release();
    });

    it('still times out a waiter that kept its turn after a failed validation, with no replacement coming', async () => {
      const upstream = await server();
      let valid = true;
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        acquireTimeoutMillis: 100,
        // A failed validation makes the replacement wait out the create backoff: a minute.
        backoff: { initialDelayMillis: 60_000 },
        validate: () => valid,
      });
      const held = await p.acquire();
      valid = false;
      const waiting = rejection(p.acquire());
      held.release();
      const error = await waiting;
      expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(p.stats().waiting).toBe(0);
    });

    it('replaces a connection whose validate() throws or rejects', async () => {
      const upstream = await server();
      let calls = 0;
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validate: async () => {
          calls++;
          if (calls === 1) throw new Error('ping failed');
          return true;
        },
      });
      const lease = await p.acquire({ timeoutMillis: 2000 });
      expect(calls).toBe(2);
      lease.release();
    });

    it('replaces a connection whose validate() hangs, within the caller deadline', async () => {
      const upstream = await server();
      let calls = 0;
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validateTimeoutMillis: 50,
        validate: () => (++calls === 1 ? new Promise<boolean>(() => undefined) : true),
      });
      const started = Date.now();
      const lease = await p.acquire({ timeoutMillis: 3000 });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(calls).toBe(2);
      lease.release();
    });
  });

  describe('housekeeping', () => {
    it('closes connections above min after idleTimeoutMillis, shrinking to min', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 3, idleTimeoutMillis: 50, reapIntervalMillis: 10 });
      const leases = await Promise.all([p.acquire(), p.acquire(), p.acquire()]);
      expect(p.size).toBe(3);
      for (const lease of leases) lease.release();
      const started = Date.now();
      await until(p, 'destroy', () => p.size === 1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(p.stats()).toMatchObject({ size: 1, idle: 1 });
    });

    it('replaces connections after maxLifetimeMillis, and a leased one only after release', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, maxLifetimeMillis: 60 });
      const lease = await p.acquire();
      let destroyed = 0;
      p.on('destroy', () => destroyed++);
      // Wait past the lifetime while leased: nothing is retired under the borrower.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 120);
        scope.defer(() => clearTimeout(timer));
      });
      expect(destroyed).toBe(0);
      expect(lease.socket.destroyed).toBe(false);
      lease.release();
      expect(destroyed).toBe(1);
      await next(p, 'connect');
      const fresh = await p.acquire();
      expect(fresh.socket).not.toBe(lease.socket);
      fresh.release();
    });

    it('warns with the acquiring stack about a lease held past leakDetectionThresholdMillis', async () => {
      const upstream = await server();
      const logger = new RecordingLogger();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1, leakDetectionThresholdMillis: 30, logger });
      const started = Date.now();
      const lease = await p.acquire();
      await logger.nextMessage();
      expect(Date.now() - started).toBeGreaterThanOrEqual(25);
      expect(logger.warnings[0]).toMatch(/held for more than 30 ms/);
      expect(logger.warnings[0]).toContain('connection-pool.spec.ts');
      lease.release();
    });
  });

  describe('shared access', () => {
    it('pick() returns connected connections round-robin, never a leased one', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 3, max: 3 });
      await p.open();
      const picks = [p.pick(), p.pick(), p.pick(), p.pick()];
      expect(new Set(picks.slice(0, 3)).size).toBe(3);
      expect(picks[3]).toBe(picks[0]);
      const lease = await p.acquire();
      for (let i = 0; i < 6; i++) expect(p.pick()).not.toBe(lease.connection);
      lease.release();
    });

    it('pick() throws ERR_NO_CONNECTION when nothing is connected', () => {
      const p = pool({ host: '127.0.0.1', port: 9, min: 0 });
      expect(() => p.pick()).toThrow(expect.objectContaining({ code: 'ERR_NO_CONNECTION' }));
    });

    it('addConnection() adds a persistent connection with its own callbacks, found by getConnection()', async () => {
      const a = await server();
      const b = await server();
      const p = pool({ name: 'manual' });
      const received: string[] = [];
      const conn = p.addConnection(a.endpoint, { onData: (d) => void received.push(String(d)) });
      const other = p.addConnection(b.endpoint);
      await Promise.all([conn.waitUntilConnected(), other.waitUntilConnected()]);
      expect(p.getConnection(a.port, '127.0.0.1')).toBe(conn);
      expect(p.getConnection(b.port)).toBe(other);
      expect(p.getConnection(1)).toBeUndefined();
      conn.socket!.write('hi');
      await next(conn, 'data');
      expect(received).toEqual(['hi']);
      a.resetAll();
      await next(conn, 'reconnect');
      expect(p.connections).toContain(conn);
    });

    it('destroying a lease on an added connection reconnects it, and never lends the dying socket', async () => {
      const upstream = await server();
      const p = pool({ name: 'pinned', max: 1 });
      const conn = p.addConnection(upstream.endpoint);
      await conn.waitUntilConnected();
      const lease = await p.acquire();
      lease.destroy(new Error('protocol error'));
      const next = await p.acquire();
      expect(next.socket).not.toBe(lease.socket);
      expect(lease.socket.destroyed).toBe(true);
      expect(next.connection).toBe(conn);
      next.release();
    });

    it('spreads connections over several endpoints and fails over when one is down', async () => {
      const a = await server();
      const b = await server();
      const p = pool({ endpoints: [a.endpoint, b.endpoint], min: 4, max: 4 });
      await p.open();
      expect(a.accepted).toBe(2);
      expect(b.accepted).toBe(2);
      await a.stop();
      await until(p, 'reconnect', () => p.stats().endpoints[1].connected === 4);
      expect(p.stats().endpoints.map((e) => e.connected)).toEqual([0, 4]);
    });
  });

  describe('closing', () => {
    it('rejects waiters with ERR_POOL_CLOSED, lets leases finish within the grace, then leaves nothing', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 2, max: 2 });
      const lease = await p.acquire();
      await p.acquire().then((l) => l.release());
      const second = await p.acquire();
      const waiter = rejection(p.acquire());
      const closed = p.close({ timeoutMillis: 5000 });
      expect((await waiter).code).toBe('ERR_POOL_CLOSED');
      expect(p.state).toBe('closing');
      lease.socket.write('still usable during the grace');
      lease.release();
      second.release();
      await closed;
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0 });
      expect(lease.socket.destroyed).toBe(true);
    });

    it('destroys leases still held when the grace period ends', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      await p.close({ timeoutMillis: 20 });
      expect(lease.socket.destroyed).toBe(true);
      expect(() => lease.release()).not.toThrow();
    });

    it('rejects acquire() at once after close', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint });
      await p.close();
      expect((await rejection(p.acquire())).code).toBe('ERR_POOL_CLOSED');
      expect(p.tryAcquire()).toBeUndefined();
      await expect(p.open()).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
    });

    it('clears the backoff timer when closed during backoff: no further attempt', async () => {
      const port = await refusedPort();
      const p = pool({ host: '127.0.0.1', port, min: 1, backoff: { initialDelayMillis: 60_000 } });
      await p.open({ wait: false });
      await next(p, 'createError');
      const failures = p.stats().endpoints[0].failures;
      await p.close();
      expect(p.stats().endpoints[0].failures).toBe(failures);
    });
  });

  describe('options', () => {
    it('rejects bad options with ERR_INVALID_OPTIONS naming the pool and the option', () => {
      const make = (o: object) => () =>
        new ConnectionPool({ name: 'bad', host: '127.0.0.1', port: 1, ...o } as PoolOptions);
      expect(make({ min: 3, max: 2 })).toThrow(/option 'min' for pool 'bad': expected at most max \(2\), got 3/);
      expect(make({ max: 0 })).toThrow(/'max'/);
      expect(make({ acquireTimeoutMillis: -1 })).toThrow(/'acquireTimeoutMillis'/);
      expect(make({ acquireTimeoutMillis: 1.5 })).toThrow(/'acquireTimeoutMillis'/);
      expect(make({ idleTimeoutMillis: '10' })).toThrow(/'idleTimeoutMillis'.*got a string/);
      expect(make({ validate: true })).toThrow(/'validate'.*a function/);
      expect(make({ backoff: { factor: 0.5 } })).toThrow(/'backoff.factor'/);
      expect(make({ maxConcurrentCreates: 0 })).toThrow(/'maxConcurrentCreates'/);
      expect(make({ port: 0 })).toThrow(/'port'/);
      expect(make({ endpoints: [] })).toThrow(/'endpoints'/);
      expect(make({ acquireTimeout: 5 })).toThrow(/Unknown option 'acquireTimeout'/);
      expect(() => new ConnectionPool({ name: '' })).toThrow(/'name'/);
      expect(make({ min: 0, acquireTimeoutMillis: 0 })).not.toThrow();
      try {
        make({ max: -1 })();
      } catch (error) {
        expect(error).toBeInstanceOf(ConnmanError);
        expect((error as ConnmanError).code).toBe('ERR_INVALID_OPTIONS');
        expect((error as ConnmanError).pool).toBe('bad');
      }
    });

    it('never shows TLS secrets in inspect output or messages', async () => {
      const secret = 'TOP-SECRET-PASSPHRASE';
      const p = pool({ host: '127.0.0.1', port: 9, min: 0, tls: { passphrase: secret, key: `-----BEGIN ${secret}` } });
      expect(inspect(p)).not.toContain(secret);
      expect(String(p)).not.toContain(secret);
      expect(() => new ConnectionPool({ name: 'x', host: '127.0.0.1', port: 1, tls: secret as never })).toThrow(
        /'tls'/,
      );
      try {
        new ConnectionPool({ name: 'x', host: '127.0.0.1', port: 1, tls: secret as never });
      } catch (error) {
        expect(String(error)).not.toContain(secret);
      }
    });
  });
});
