/**
 * Adversarial review: the seams between the protocol layer and the pool
 * (leases, validation, lifetime, reaping, closing, the registry).
 *
 * Tests in this file that fail today show bugs in lib/core (see the report
 * of the review branch); they are kept failing on purpose until lib/core is
 * fixed.
 */
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { ConnectionPool, Connman, ConnmanError, lines, type Lease, type PoolOptions } from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { echoLines, lineHandler } from '../helpers/line-server.js';
import { flushIo, useScope } from '../helpers/resources.js';
import { TestServer, type SocketHandler } from '../helpers/server.js';
import { eventually, outcome, quick, rejection, within } from './review-helpers.js';

describe('review: pool seams', () => {
  const scope = useScope();

  async function server(handler: SocketHandler = echoLines): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: PoolOptions): ConnectionPool {
    const p = new ConnectionPool<Buffer>({ ...quick, ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }
  /** A server that holds the reply to `hold` (the test answers it through `held`) and echoes the rest. */
  async function holdingServer(): Promise<{
    upstream: TestServer;
    received: string[];
    held: () => Socket | undefined;
  }> {
    const received: string[] = [];
    let socket: Socket | undefined;
    const upstream = await server(
      lineHandler((line, s) => {
        received.push(line);
        if (line === 'hold') socket = s;
        else s.write(`${line}\n`);
      }),
    );
    return { upstream, received, held: () => socket };
  }

  describe('a connection leaving the pool behind its back', () => {
    it('a pooled connection disconnected inside its handshake is replaced: open() resolves and min is kept', async () => {
      const upstream = await server();
      let handshakes = 0;
      const p = pool({
        name: 'review-disconnect-in-handshake',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        handshake: (_socket, context) => {
          if (handshakes++ === 0) void context.connection.disconnect();
        },
      });
      expect(await outcome(p.open({ timeoutMillis: 1000 }))).toBe('ok:undefined');
      expect(p.stats()).toMatchObject({ size: 1, connected: 1 });
    });

    it('a pooled connection disconnected through the registry (getConnection + Connman.disconnect) is replaced', async () => {
      const upstream = await server();
      const connman = new Connman();
      const p = connman.createPool('review-registry-disconnect', { ...upstream.endpoint, ...quick, min: 1, max: 1 });
      scope.defer(() => connman.disconnectAll({ timeoutMillis: 0 }));
      await p.open();
      const conn = connman.getConnection(upstream.port)!;
      expect(p.connections).toContain(conn);
      // The registry may refuse to disconnect a pooled connection, or the pool may replace it;
      // the pool must not keep a closed connection counted as one of its own: it serves again.
      await connman.disconnect(conn).catch(() => undefined);
      const lease = await p.acquire({ timeoutMillis: 1000 });
      expect(lease.connection.state).toBe('connected');
      lease.release();
      expect(p.connections.every((c) => c.state !== 'closed')).toBe(true);
    });
  });

  describe('requests and leases', () => {
    it('a connection is never lent while a pool request on it is unanswered (its reply would reach the borrower)', async () => {
      const { upstream, held } = await holdingServer();
      const p = pool({ name: 'review-lend-in-flight', ...upstream.endpoint, min: 1, max: 1, framing: lines() });
      await p.open();
      const order: string[] = [];
      const reply = p.request('hold\n').then((frame) => order.push(`reply:${frame.toString()}`));
      const acquired = p.acquire({ timeoutMillis: 2000 }).then((lease) => {
        order.push('acquire');
        return lease;
      });
      await eventually(() => held() !== undefined);
      await flushIo();
      held()!.write('held-reply\n');
      const lease = await acquired;
      await reply;
      lease.release();
      expect(order).toEqual(['reply:held-reply', 'acquire']);
    });

    it('a lease released during close() leaves its request in flight the grace period to be answered', async () => {
      const { upstream, held } = await holdingServer();
      const p = new ConnectionPool({
        name: 'review-release-in-close',
        ...upstream.endpoint,
        ...quick,
        min: 1,
        max: 1,
        framing: lines(),
      });
      await p.open();
      const lease = await p.acquire();
      const reply = outcome(lease.request('hold\n'));
      await eventually(() => held() !== undefined);
      const closing = p.close({ timeoutMillis: 5000 });
      lease.release();
      held()!.write('held-reply\n');
      expect(await reply).toBe('ok:held-reply');
      await closing;
    });

    it('close() does not wait out its grace period for a request that was aborted and will never be answered', async () => {
      const { upstream, received } = await holdingServer();
      const p = new ConnectionPool({
        name: 'review-close-stale',
        ...upstream.endpoint,
        ...quick,
        min: 1,
        max: 1,
        framing: lines(),
      });
      await p.open();
      const abort = new AbortController();
      const aborted = outcome(p.request('hold\n', { signal: abort.signal }));
      await eventually(() => received.length === 1);
      abort.abort();
      expect(await aborted).toBe('ERR_REQUEST_ABORTED');
      // Nobody waits for that reply: nothing is left to drain.
      const started = performance.now();
      await p.close({ timeoutMillis: 4000 });
      expect(performance.now() - started).toBeLessThan(1500);
    });
  });

  describe('lifetime, reaping and heartbeats', () => {
    it('a connection past maxLifetimeMillis is replaced even though a request on it was aborted and never answered', async () => {
      const { upstream, received } = await holdingServer();
      const p = pool({
        name: 'review-lifetime-stale',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        maxLifetimeMillis: 150,
      });
      await p.open();
      const first = p.connections[0];
      const abort = new AbortController();
      const aborted = outcome(p.request('hold\n', { signal: abort.signal }));
      await eventually(() => received.length === 1);
      abort.abort();
      expect(await aborted).toBe('ERR_REQUEST_ABORTED');
      // Past its lifetime (150 ms, minus up to 10% jitter) it must be replaced, and the pool serve again.
      const replaced = await within(next(p, 'destroy'), 1500);
      expect(replaced).toBe(true);
      const lease = await p.acquire({ timeoutMillis: 1000 });
      expect(lease.connection).not.toBe(first);
      lease.release();
    });

    it('heartbeats do not keep connections above min alive: an idle one is reaped past idleTimeoutMillis', async () => {
      const upstream = await server();
      const p = pool({
        name: 'review-reap-heartbeat',
        ...upstream.endpoint,
        min: 0,
        max: 2,
        framing: lines(),
        idleTimeoutMillis: 200,
        reapIntervalMillis: 50,
        heartbeat: { intervalMillis: 60, payload: 'ping\n' },
      });
      const lease = await p.acquire();
      lease.release();
      // Idle (for leases) from now on; only heartbeats go over it. Reaped by ~200 + 2 x 50 ms.
      const reaped = await within(next(p, 'destroy'), 1500);
      expect(reaped).toBe(true);
      expect(p.size).toBe(0);
    });

    it('holds: without heartbeats the same idle connection is reaped (the control of the test above)', async () => {
      const upstream = await server();
      const p = pool({
        name: 'review-reap-control',
        ...upstream.endpoint,
        min: 0,
        max: 2,
        framing: lines(),
        idleTimeoutMillis: 200,
        reapIntervalMillis: 50,
      });
      const lease = await p.acquire();
      lease.release();
      const reaped = await within(next(p, 'destroy'), 1500);
      expect(reaped).toBe(true);
      expect(p.size).toBe(0);
    });

    it('holds: a request in flight when maxLifetime passes gets its reply; then the connection is replaced', async () => {
      const { upstream, held } = await holdingServer();
      const p = pool({
        name: 'review-lifetime-inflight',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        maxLifetimeMillis: 100,
      });
      await p.open();
      const first = p.connections[0];
      const reply = outcome(p.request('hold\n'));
      await eventually(() => held() !== undefined);
      // Past its lifetime it leaves the idle list (for leases), and stays up for its reply.
      await eventually(() => p.stats().idle === 0, 1500);
      expect(first.state).toBe('connected');
      held()!.write('held-reply\n');
      expect(await reply).toBe('ok:held-reply');
      await next(p, 'connect');
      expect(p.connections).not.toContain(first);
      expect(await outcome(p.request('after\n'))).toBe('ok:after');
    });
  });

  describe('waiting bounds', () => {
    it('pool.request() with maxWaitingClients 0 and no ready connection rejects at once with ERR_TOO_MANY_WAITERS, like acquire()', async () => {
      const upstream = await server();
      const p = pool({
        name: 'review-no-waiting',
        ...upstream.endpoint,
        min: 0,
        max: 1,
        framing: lines(),
        maxWaitingClients: 0,
      });
      expect((await rejection(p.acquire())).code).toBe('ERR_TOO_MANY_WAITERS');
      expect((await rejection(p.request('x\n'))).code).toBe('ERR_TOO_MANY_WAITERS');
    });
  });

  describe('validation', () => {
    it("a validation slower than an impatient caller's deadline does not condemn a healthy connection: the next waiter gets it", async () => {
      const upstream = await server();
      const p = pool({
        name: 'review-slow-validation',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        // Healthy, but takes 60 ms to say so (validateTimeoutMillis is 5000).
        validate: () => new Promise<boolean>((resolve) => setTimeout(resolve, 60, true)),
      });
      const destroyed: string[] = [];
      p.on('destroy', (_connection, reason) => destroyed.push((reason as ConnmanError | undefined)?.code ?? 'none'));
      await p.open();
      const first = p.connections[0];
      expect((await rejection(p.acquire({ timeoutMillis: 20 }))).code).toBe('ERR_ACQUIRE_TIMEOUT');
      // Waiter doc: the validation's outcome then goes to the next waiter.
      const lease = await p.acquire({ timeoutMillis: 2000 });
      const same = lease.connection === first;
      lease.release();
      expect(destroyed).toEqual([]);
      expect(same).toBe(true);
    });

    it('a synchronous validate() that kills the socket never yields a lease on a dead socket', async () => {
      const upstream = await server();
      let validations = 0;
      const p = pool({
        name: 'review-validate-kills',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validate: (socket) => {
          if (validations++ === 0) socket.destroy();
          return true;
        },
      });
      await p.open();
      const lease = await p.acquire({ timeoutMillis: 2000 });
      const dead = lease.socket.destroyed;
      lease.release();
      expect(dead).toBe(false);
    });

    it('a synchronous validate() that closes the pool: acquire() rejects with ERR_POOL_CLOSED, never a lease without a socket', async () => {
      const upstream = await server();
      const p: ConnectionPool = pool({
        name: 'review-validate-closes',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validate: () => {
          void p.close({ timeoutMillis: 0 });
          return true;
        },
      });
      await p.open();
      const result = await p.acquire().then(
        (lease: Lease) => `a lease, socket ${String(lease.socket)}`,
        (error: ConnmanError) => error.code,
      );
      expect(result).toBe('ERR_POOL_CLOSED');
    });
  });

  describe('events', () => {
    it('a lease destroyed inside onReset still reports the reset as a pool reset event', async () => {
      const upstream = await server();
      const borrowed: { lease?: Lease } = {};
      const p = pool({
        name: 'review-destroy-in-onreset',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        callbacks: {
          onReset: () => {
            if (borrowed.lease !== undefined && !borrowed.lease.released) borrowed.lease.destroy();
          },
        },
      });
      const events: string[] = [];
      p.on('reset', () => events.push('reset'));
      p.on('destroy', () => events.push('destroy'));
      await p.open();
      const lease = await p.acquire();
      borrowed.lease = lease;
      lease.socket.destroy(new Error('the borrower broke it'));
      await next(p, 'connect');
      expect(events).toContain('reset');
    });
  });
});
