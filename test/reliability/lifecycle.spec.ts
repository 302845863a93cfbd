// Reliability matrix, rows 25-29: leaks, failing handlers, closing.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import { lines, type ConnectionPool, type Lease } from 'nestjs-connman';
import { refusedPort } from 'nestjs-connman/testing';
import { next, until } from '../helpers/events.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import {
  HoldingLines,
  Rig,
  expectConsistent,
  expectHandlesBackTo,
  liveHandles,
  rejection,
  settlesAtOnce,
  stopwatch,
} from './kit.js';

const MARGIN = 2000;

/** Named so that the acquiring stack can be recognised in a leak warning. */
function borrowForTheLeakCheck(pool: ConnectionPool): Promise<Lease> {
  return pool.acquire();
}

/** Named too: this one has to wait for its lease. */
function waitForTheLeakCheck(pool: ConnectionPool): Promise<Lease> {
  return pool.acquire({ timeoutMillis: 5000 });
}

/** Waits, message by message, until `predicate()` holds. */
async function untilLogged(logger: RecordingLogger, predicate: () => boolean): Promise<void> {
  while (!predicate()) await logger.nextMessage();
}

describe('reliability matrix: lifecycle', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 25: leak detection', () => {
    it('row 25: a lease held past leakDetectionThresholdMillis is reported once, with the stack of the code that acquired it, not before the threshold', async () => {
      const upstream = await rig.server();
      const logger = new RecordingLogger();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, leakDetectionThresholdMillis: 50, logger });
      await p.open();
      const elapsed = stopwatch();
      const lease = await borrowForTheLeakCheck(p);
      const warning = await logger.nextMessage();
      expect(elapsed()).toBeGreaterThanOrEqual(49);
      expect(warning).toMatch(/held for more than 50 ms/);
      expect(warning).toContain('borrowForTheLeakCheck');
      expect(warning).toContain('lifecycle.spec.ts');
      lease.release();
      expect(logger.warnings).toHaveLength(1);
    });

    it('row 25: a waiter granted later is reported with the stack of its own acquire() call', async () => {
      const upstream = await rig.server();
      const logger = new RecordingLogger();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, leakDetectionThresholdMillis: 40, logger });
      const first = await p.acquire();
      const waiting = waitForTheLeakCheck(p);
      first.release(); // released before its threshold: no warning
      const lease = await waiting;
      const warning = await logger.nextMessage();
      expect(warning).toContain('waitForTheLeakCheck');
      expect(logger.warnings).toHaveLength(1);
      lease.release();
    });
  });

  describe('row 26: user handler throws', () => {
    it('row 26: callbacks that throw or reject are logged, and the pool keeps lending and reconnecting', async () => {
      const upstream = await rig.server();
      const logger = new RecordingLogger();
      const boom = (where: string) => () => {
        throw new Error(`boom in ${where}`);
      };
      const p = rig.pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        logger,
        callbacks: {
          onConnect: boom('onConnect'),
          onData: boom('onData'),
          onReset: boom('onReset'),
          onReconnect: () => Promise.reject(new Error('boom in onReconnect')),
        },
      });
      p.addHandlers({ onConnect: boom('a handler') });
      await p.open();
      await upstream.waitForConnection(2);
      const lease = await p.acquire();
      lease.socket.write('echo');
      await untilLogged(logger, () => logger.errors.some((l) => l.includes('boom in onData')));
      lease.release();
      await upstream.resetAll();
      await untilLogged(logger, () => logger.errors.filter((l) => l.includes('boom in onReconnect')).length === 2);
      for (const where of ['onConnect', 'onData', 'onReset', 'onReconnect', 'a handler']) {
        expect(logger.errors.some((line) => line.includes(`boom in ${where}`))).toBe(true);
      }
      expect(logger.errors.some((line) => line.includes("pool 'matrix'"))).toBe(true);
      // Still lending, and everything came back.
      await until(p, 'reconnect', () => p.stats().connected === 2);
      const again = await p.acquire();
      again.release();
      expectConsistent(p);
    });

    it("row 26: with an 'error' listener, failing callbacks become error events instead of log lines; the connection stays up", async () => {
      const upstream = await rig.server();
      const logger = new RecordingLogger();
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        logger,
        callbacks: {
          onReset: () => async () => {
            throw new Error('boom in the resume function');
          },
        },
      });
      const errors: Error[] = [];
      p.on('error', (error) => void errors.push(error));
      await p.open();
      await upstream.waitForConnection(1);
      await upstream.resetAll();
      await until(p, 'error', () => errors.length === 1);
      expect(errors[0].message).toBe('boom in the resume function');
      expect(logger.errors).toEqual([]);
      expect(p.connections[0].connected).toBe(true);
      const lease = await p.acquire();
      lease.release();
    });

    it('row 26: an onData that throws on every push does not stop replies from reaching their requests', async () => {
      const upstream = await rig.server({
        handler: (socket) => {
          socket.write('push\n');
          new HoldingLines().handler(socket);
        },
      });
      const logger = new RecordingLogger();
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        logger,
        framing: lines(),
        callbacks: {
          onData: () => {
            throw new Error('boom in onData');
          },
        },
      });
      await p.open();
      await untilLogged(logger, () => logger.errors.length === 1);
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => p.request(`q${i}\n`)));
      expect(replies.map(String)).toEqual(Array.from({ length: 50 }, (_, i) => `q${i}`));
    });
  });

  describe('row 27: graceful close', () => {
    it('row 27: close() rejects waiters and waiting requests with ERR_POOL_CLOSED at once, lets leases and requests in flight finish within the grace, then leaves nothing', async () => {
      const server = new HoldingLines((line) => line.startsWith('slow'));
      const upstream = await rig.server({ handler: server.handler });
      const baseline = liveHandles();
      const timers = rig.timers();
      const p = rig.pool({ ...upstream.endpoint, min: 2, max: 2, framing: lines() });
      await p.open();
      const a = await p.acquire();
      const b = await p.acquire();
      const inFlight = b.request('slow in flight\n', { timeoutMillis: 5000 });
      await server.until(1);
      const waiter = rejection(p.acquire({ timeoutMillis: 60_000 }));
      const waitingRequest = rejection(p.request('never written\n', { timeoutMillis: 60_000 }));
      expect(p.stats()).toMatchObject({ waiting: 1, waitingRequests: 1, leased: 2 });
      const closing = p.close({ timeoutMillis: 5000 });
      expect(await settlesAtOnce(waiter)).toBe(true);
      expect(await settlesAtOnce(waitingRequest)).toBe(true);
      expect((await waiter).code).toBe('ERR_POOL_CLOSED');
      expect((await waitingRequest).code).toBe('ERR_POOL_CLOSED');
      expect(p.state).toBe('closing');
      // The grace: a lease still works, a request in flight gets its reply.
      expect((await a.request('still works\n')).toString()).toBe('still works');
      a.release();
      server.releaseHeld();
      expect((await inFlight).toString()).toBe('slow in flight');
      b.release();
      await closing;
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0, leased: 0, waiting: 0 });
      expect(a.socket.destroyed).toBe(true);
      await expectHandlesBackTo(baseline);
      expect(await timers.pending()).toBe(0);
      expect(server.received.map((r) => r.line)).not.toContain('never written');
    });

    it('row 27: leases still held when the grace ends are destroyed, and close() resolves clean', async () => {
      const upstream = await rig.server();
      const baseline = liveHandles();
      const timers = rig.timers();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      const elapsed = stopwatch();
      await p.close({ timeoutMillis: 50 });
      expect(elapsed()).toBeGreaterThanOrEqual(49);
      expect(elapsed()).toBeLessThan(50 + MARGIN);
      expect(lease.socket.destroyed).toBe(true);
      expect(() => lease.release()).not.toThrow();
      await expectHandlesBackTo(baseline);
      expect(await timers.pending()).toBe(0);
    });
  });

  describe('row 28: acquire after close', () => {
    it('row 28: acquire(), request() and open() after close() reject at once with ERR_POOL_CLOSED; tryAcquire() gives nothing', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, framing: lines() });
      await p.open();
      const held = await p.acquire();
      const closing = p.close({ timeoutMillis: 5000 });
      for (const phase of ['closing', 'closed']) {
        expect(p.state).toBe(phase);
        for (const attempt of [() => p.acquire({ timeoutMillis: 60_000 }), () => p.request('x\n'), () => p.open()]) {
          const refused = rejection(attempt());
          expect(await settlesAtOnce(refused)).toBe(true);
          expect((await refused).code).toBe('ERR_POOL_CLOSED');
        }
        expect(p.tryAcquire()).toBeUndefined();
        expect(() => p.addConnection(upstream.endpoint)).toThrow(expect.objectContaining({ code: 'ERR_POOL_CLOSED' }));
        if (phase === 'closing') {
          held.release();
          await closing;
        }
      }
    });
  });

  describe('row 29: close during backoff', () => {
    it('row 29: close() while a lost connection waits out its backoff clears the timer; no further attempt is made', async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      const p = rig.pool({ ...proxy.endpoint, min: 1, max: 1, backoff: { initialDelayMillis: 60_000 } });
      await p.open();
      await proxy.waitForConnection(1);
      const timers = rig.timers();
      const lost = next(p, 'reset');
      await proxy.down();
      await lost;
      expect(p.connections[0].state).toBe('backoff');
      const accepted = proxy.accepted;
      await p.close();
      expect(await timers.pending()).toBe(0);
      await proxy.up();
      expect(proxy.accepted).toBe(accepted);
    });

    it("row 29: close() while the pool's create backoff runs clears its timer too", async () => {
      const port = await refusedPort();
      const p = rig.pool({ host: '127.0.0.1', port, min: 0, max: 1, backoff: { initialDelayMillis: 60_000 } });
      const timers = rig.timers();
      const waiter = rejection(p.acquire({ timeoutMillis: 60_000 }));
      await next(p, 'createError');
      const failures = p.stats().endpoints[0].failures;
      await p.close();
      expect((await waiter).code).toBe('ERR_POOL_CLOSED');
      expect(await timers.pending()).toBe(0);
      expect(p.stats().endpoints[0].failures).toBe(failures);
    });

    it('row 29: disconnect() of a single connection during its backoff clears the timer', async () => {
      const port = await refusedPort();
      const conn = rig.connection({ host: '127.0.0.1', port }, {}, { backoff: { initialDelayMillis: 60_000 } });
      const timers = rig.timers();
      await next(conn.connect(), 'connectError');
      expect(conn.state).toBe('backoff');
      const attempts = conn.attempts;
      await conn.disconnect();
      expect(await timers.pending()).toBe(0);
      expect(conn.attempts).toBe(attempts);
    });
  });
});
