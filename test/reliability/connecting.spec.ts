// Reliability matrix, rows 1-6, 12 and 30: connecting, reconnecting and backing off.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { Backoff, ConnmanError, type ConnectionPool, type ConnmanSocket } from 'nestjs-connman';
import { refusedPort } from 'nestjs-connman/testing';
import { Blackhole } from '../helpers/blackhole.js';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { selfSigned } from '../helpers/tls.js';
import {
  Rig,
  expectConsistent,
  expectHandlesBackTo,
  hangingLookup,
  liveHandles,
  lookupAnswering,
  nextOf,
  rejection,
  seeded,
  stopwatch,
} from './kit.js';

/** Upper margin on timing bounds: the machine is shared (2 cores, other suites run alongside). */
const MARGIN = 2000;
const noRetry = { backoff: { initialDelayMillis: 60_000 } };

describe('reliability matrix: connecting', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 1: refused, watched with a small backoff', () => {
    it('row 1: against a refused port watched for 2 s, attempts stay within the backoff schedule and the CPU stays near idle', async () => {
      const port = await refusedPort();
      const floor = 20;
      const conn = rig.connection(
        { host: '127.0.0.1', port },
        {},
        { backoff: { initialDelayMillis: floor, maxDelayMillis: 80, factor: 2, jitter: 1 } },
      );
      const times: number[] = [];
      const elapsed = stopwatch();
      conn.on('connectError', () => void times.push(elapsed()));
      const cpu = process.cpuUsage();
      conn.connect();
      while (elapsed() < 2000) await next(conn, 'connectError');
      const used = process.cpuUsage(cpu);
      const wall = elapsed();
      // Every gap is at least the floor: at most wall / floor + 1 attempts.
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(floor - 1);
      expect(conn.attempts).toBeLessThanOrEqual(Math.floor(wall / floor) + 1);
      // And it kept trying (the cap is 80 ms).
      expect(conn.attempts).toBeGreaterThanOrEqual(10);
      // A hot loop would use the whole core; a backoff uses almost none of it.
      expect((used.user + used.system) / 1000).toBeLessThan(wall * 0.2);
    });

    it('row 1: a pool with waiters against a refused port keeps every attempt stream on the backoff, CPU near idle', async () => {
      const port = await refusedPort();
      const floor = 20;
      const p = rig.pool({
        host: '127.0.0.1',
        port,
        min: 1,
        max: 4,
        maxConcurrentCreates: 4,
        backoff: { initialDelayMillis: floor, maxDelayMillis: 80 },
      });
      let failures = 0;
      p.on('createError', () => failures++);
      const elapsed = stopwatch();
      const cpu = process.cpuUsage();
      const waits = Array.from({ length: 4 }, () => rejection(p.acquire({ timeoutMillis: 2000 })));
      const errors = await Promise.all(waits);
      const used = process.cpuUsage(cpu);
      const wall = elapsed();
      for (const error of errors) expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      // At most max (4) streams of attempts, each at most one per floor.
      expect(failures).toBeLessThanOrEqual(4 * (Math.floor(wall / floor) + 1));
      expect((used.user + used.system) / 1000).toBeLessThan(wall * 0.2);
      expectConsistent(p);
    });

    it('row 1: a single connection to a peer that accepts and closes at once backs off like a refused one', async () => {
      const upstream = await rig.server({ handler: (socket) => socket.destroy() });
      const floor = 50;
      const conn = rig.connection(
        upstream.endpoint,
        {},
        { backoff: { initialDelayMillis: floor, maxDelayMillis: 400 } },
      );
      const elapsed = stopwatch();
      const cpu = process.cpuUsage();
      conn.connect();
      while (elapsed() < 1000) await nextOf(conn, ['reset', 'connectError']);
      const used = process.cpuUsage(cpu);
      expect(upstream.accepted).toBeLessThanOrEqual(Math.floor(elapsed() / floor) + 1);
      expect((used.user + used.system) / 1000).toBeLessThan(elapsed() * 0.2);
    });

    // Regression: siblings hurried by retrySoon() below the floor on every brief connect never
    // backed off past it (about 40 attempts per connection in 2 s before d0fa9ee).
    it("row 1: a pool's min connections to a peer that accepts and closes at once back off on the schedule, like a single connection", async () => {
      const upstream = await rig.server({ handler: (socket) => socket.destroy() });
      // No jitter: the schedule after each loss is 100, 200, 400, 800, 1000, 1000... ms.
      const backoff = { initialDelayMillis: 50, maxDelayMillis: 1000, factor: 2, jitter: 0 };
      const p = rig.pool({ ...upstream.endpoint, min: 3, max: 3, backoff });
      const elapsed = stopwatch();
      await p.open({ wait: false });
      while (elapsed() < 2000) await nextOf(p, ['reset', 'createError']);
      // In 2 s each connection makes at most 1 + 5 attempts (100 + 200 + 400 + 800 < 2000 < 2500).
      expect(upstream.accepted).toBeLessThanOrEqual(3 * 6);
    });

    // Regression: the create backoff started over on every connect, however short-lived, so each
    // acquire() got a new connection at once (thousands per second before d0fa9ee).
    it('row 1: a pool against a peer that accepts and closes at once keeps new connections on the backoff, even for a borrower that retries at once', async () => {
      const upstream = await rig.server({ handler: (socket) => socket.destroy() });
      const floor = 50;
      const p = rig.pool({
        ...upstream.endpoint,
        min: 0,
        max: 2,
        backoff: { initialDelayMillis: floor, maxDelayMillis: 400 },
      });
      const elapsed = stopwatch();
      const cpu = process.cpuUsage();
      // A borrower that, like much real code, retries as soon as its connection dies.
      for (let i = 0; i < 100_000 && elapsed() < 1000; i++) {
        const lease = await p.acquire({ timeoutMillis: 1000 }).catch(() => undefined);
        if (lease === undefined) continue;
        if (!lease.socket.destroyed) await once(lease.socket, 'close');
        lease.release();
      }
      const used = process.cpuUsage(cpu);
      const wall = elapsed();
      // Two streams of attempts (max 2), each at most one per floor.
      expect(upstream.accepted).toBeLessThanOrEqual(2 * (Math.floor(wall / floor) + 1));
      expect((used.user + used.system) / 1000).toBeLessThan(wall * 0.2);
    });
  });

  describe('row 2: jitter', () => {
    it('row 2: every delay lies within [floor, min(cap, floor * factor^n)], never 0, whatever the random source', () => {
      const sources: [string, () => number][] = [
        ['always 0', () => 0],
        ['almost 1', () => 0.9999999999],
        ['seeded', seeded(42)],
        ['Math.random', Math.random],
      ];
      for (const [, random] of sources) {
        for (const jitter of [0, 0.3, 1]) {
          for (const [floor, cap, factor] of [
            [1, 1, 1],
            [1, 50, 3],
            [100, 5000, 2],
            [250, 60_000, 1.5],
          ]) {
            const backoff = new Backoff(
              { initialDelayMillis: floor, maxDelayMillis: cap, factor, jitter, resetAfterMillis: 0 },
              random,
            );
            for (let n = 1; n <= 40; n++) {
              const delay = backoff.next();
              expect(delay).toBeGreaterThanOrEqual(floor);
              expect(delay).toBeGreaterThan(0);
              expect(delay).toBeLessThanOrEqual(Math.min(cap, floor * factor ** n));
            }
          }
        }
      }
    });

    it('row 2: the random source places the delay exactly: 0 gives the ceiling, 1 the floor, jitter 0 ignores it', () => {
      const options = { initialDelayMillis: 100, maxDelayMillis: 1000, factor: 2, resetAfterMillis: 0 };
      const top = new Backoff({ ...options, jitter: 1 }, () => 0);
      expect([1, 2, 3, 4, 5].map(() => top.next())).toEqual([200, 400, 800, 1000, 1000]);
      const bottom = new Backoff({ ...options, jitter: 1 }, () => 0.999999999);
      expect([1, 2, 3, 4].map(() => bottom.next())).toEqual([100, 100, 100, 100]);
      const half = new Backoff({ ...options, jitter: 1 }, () => 0.5);
      expect([1, 2, 3].map(() => half.next())).toEqual([150, 250, 450]);
      const none = new Backoff({ ...options, jitter: 0 }, () => 0.7);
      expect([1, 2, 3].map(() => none.next())).toEqual([200, 400, 800]);
    });

    it("row 2: a connection's measured retry delays lie within the same bounds", async () => {
      const port = await refusedPort();
      const [floor, cap] = [30, 120];
      const conn = rig.connection(
        { host: '127.0.0.1', port },
        {},
        { backoff: { initialDelayMillis: floor, maxDelayMillis: cap, factor: 2, jitter: 1 } },
      );
      const times: number[] = [];
      const elapsed = stopwatch();
      conn.on('connectError', () => void times.push(elapsed()));
      conn.connect();
      while (times.length < 8) await next(conn, 'connectError');
      for (let n = 1; n < times.length; n++) {
        const gap = times[n] - times[n - 1];
        expect(gap).toBeGreaterThanOrEqual(floor - 1);
        expect(gap).toBeLessThanOrEqual(Math.min(cap, floor * 2 ** n) + MARGIN);
      }
    });

    it("row 2: a pool's new-connection attempts are spaced by at least the floor while the peer refuses", async () => {
      const port = await refusedPort();
      const floor = 30;
      const p = rig.pool({ host: '127.0.0.1', port, min: 0, max: 1, backoff: { initialDelayMillis: floor } });
      const times: number[] = [];
      const elapsed = stopwatch();
      p.on('createError', () => void times.push(elapsed()));
      const waiting = rejection(p.acquire({ timeoutMillis: 5000 }));
      await until(p, 'createError', () => times.length >= 5);
      for (let n = 1; n < times.length; n++) expect(times[n] - times[n - 1]).toBeGreaterThanOrEqual(floor - 1);
      await p.close({ timeoutMillis: 0 });
      expect((await waiting).code).toBe('ERR_POOL_CLOSED');
    });
  });

  describe('row 3: blackholed connect', () => {
    it('row 3: a blackholed connect fails with ERR_CONNECT_TIMEOUT within connectTimeoutMillis + margin, its socket destroyed, nothing left', async () => {
      const hole = await Blackhole.start();
      scope.defer(() => hole.close());
      const baseline = liveHandles();
      const timers = rig.timers();
      const conn = rig.connection(hole.endpoint, {}, { connectTimeoutMillis: 150, ...noRetry });
      const elapsed = stopwatch();
      const [error] = await next<[ConnmanError]>(conn.connect(), 'connectError');
      const took = elapsed();
      expect(error).toBeInstanceOf(ConnmanError);
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(error.message).toContain(`127.0.0.1:${hole.port}`);
      expect(took).toBeGreaterThanOrEqual(149);
      expect(took).toBeLessThan(150 + MARGIN);
      expect(conn.socket).toBeUndefined();
      // The attempt's socket is gone; only the (60 s) retry timer is left, and disconnect() clears it.
      await expectHandlesBackTo(baseline);
      expect(await timers.pending()).toBe(1);
      await conn.disconnect();
      expect(await timers.pending()).toBe(0);
    });

    it("row 3: a pool's open() and acquire() against a blackholed peer reject at their deadlines with ERR_CONNECT_TIMEOUT as cause; close() leaves nothing", async () => {
      const hole = await Blackhole.start();
      scope.defer(() => hole.close());
      const baseline = liveHandles();
      const timers = rig.timers();
      const p = rig.pool({ ...hole.endpoint, min: 1, max: 2, connectTimeoutMillis: 100 });
      const elapsed = stopwatch();
      const opening = rejection(p.open({ timeoutMillis: 250 }));
      const acquiring = rejection(p.acquire({ timeoutMillis: 350 }));
      const openError = await opening;
      expect(openError.code).toBe('ERR_CONNECT_TIMEOUT');
      expect((openError.cause as ConnmanError).code).toBe('ERR_CONNECT_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(249);
      const acquireError = await acquiring;
      expect(acquireError.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect((acquireError.cause as ConnmanError).code).toBe('ERR_CONNECT_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(349);
      expect(elapsed()).toBeLessThan(350 + MARGIN);
      expectConsistent(p);
      await p.close({ timeoutMillis: 0 });
      await expectHandlesBackTo(baseline);
      expect(await timers.pending()).toBe(0);
    });
  });

  describe('row 4: accepted, never answers', () => {
    it('row 4: a TLS handshake with a peer that accepts and never answers times out at connectTimeoutMillis, and the connection is discarded', async () => {
      // Plain TCP that reads and never writes: the TLS handshake never completes.
      const upstream = await rig.server({ handler: (socket) => void socket.resume() });
      const baseline = liveHandles();
      const conn = rig.connection(
        { ...upstream.endpoint, tls: { ca: selfSigned.cert } },
        {},
        { connectTimeoutMillis: 120, ...noRetry },
      );
      const elapsed = stopwatch();
      conn.connect();
      const serverSide = await upstream.nextConnection();
      const [error] = await next<[ConnmanError]>(conn, 'connectError');
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(119);
      expect(elapsed()).toBeLessThan(120 + MARGIN);
      // Discarded: the peer sees the connection close, and no socket of it is left here.
      if (!serverSide.closed) await once(serverSide, 'close');
      await conn.disconnect();
      await expectHandlesBackTo(baseline);
    });

    it('row 4: a validation that never answers is abandoned at validateTimeoutMillis; the connection is discarded and replaced within the caller deadline', async () => {
      const upstream = await rig.server();
      let calls = 0;
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validateTimeoutMillis: 80,
        validate: () => (++calls === 1 ? new Promise<boolean>(() => undefined) : true),
      });
      await p.open();
      const first = p.connections[0].socket!;
      const firstServerSide = await upstream.nextConnection();
      const elapsed = stopwatch();
      const lease = await p.acquire({ timeoutMillis: 3000 });
      expect(elapsed()).toBeGreaterThanOrEqual(79);
      expect(elapsed()).toBeLessThan(3000);
      expect(lease.socket).not.toBe(first);
      expect(first.destroyed).toBe(true);
      if (!firstServerSide.closed) await once(firstServerSide, 'close');
      expect(calls).toBe(2);
      lease.release();
      expectConsistent(p);
    });
  });

  describe('row 5: DNS failure and hang', () => {
    const enotfound = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });

    it("row 5: a lookup that fails with ENOTFOUND fails each attempt with it, and the pool's open() and acquire() carry it as cause", async () => {
      const p = rig.pool({
        host: 'nowhere.invalid',
        port: 9,
        min: 1,
        max: 1,
        socketOptions: { lookup: lookupAnswering(0, enotfound) },
      });
      const failed = next<[NodeJS.ErrnoException]>(p, 'createError');
      const opening = rejection(p.open({ timeoutMillis: 150 }));
      const [attemptError] = await failed;
      expect(attemptError.code).toBe('ENOTFOUND');
      const openError = await opening;
      expect(openError.code).toBe('ERR_CONNECT_TIMEOUT');
      expect((openError.cause as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
      expect(openError.message).toContain('ENOTFOUND');
      const acquireError = await rejection(p.acquire({ timeoutMillis: 50 }));
      expect(acquireError.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect((acquireError.cause as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
      expect(p.stats().endpoints[0].lastError).toContain('ENOTFOUND');
    });

    it('row 5: a lookup that never calls back is bounded by connectTimeoutMillis (ERR_CONNECT_TIMEOUT)', async () => {
      const baseline = liveHandles();
      const conn = rig.connection(
        { host: 'never.invalid', port: 9 },
        {},
        { connectTimeoutMillis: 100, ...noRetry, socketOptions: { lookup: hangingLookup } },
      );
      const elapsed = stopwatch();
      const [error] = await next<[ConnmanError]>(conn.connect(), 'connectError');
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(99);
      expect(elapsed()).toBeLessThan(100 + MARGIN);
      await conn.disconnect();
      await expectHandlesBackTo(baseline);
    });

    it('row 5: one connect deadline covers DNS and TCP together: a slow lookup then a blackholed connect fail at connectTimeoutMillis, not after', async () => {
      const hole = await Blackhole.start();
      scope.defer(() => hole.close());
      const conn = rig.connection(
        { host: 'slow.invalid', port: hole.port },
        {},
        { connectTimeoutMillis: 800, ...noRetry, socketOptions: { lookup: lookupAnswering(600) } },
      );
      const elapsed = stopwatch();
      const [error] = await next<[ConnmanError]>(conn.connect(), 'connectError');
      const took = elapsed();
      expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(took).toBeGreaterThanOrEqual(799);
      // Had the deadline started after DNS, the attempt would end at 600 + 800 ms.
      expect(took).toBeLessThan(1300);
    });
  });

  describe('row 6: server restart', () => {
    it('row 6: after a server restart the connection comes back: reset, then connect and reconnect callbacks, in order, after at least the backoff floor', async () => {
      const upstream = await rig.server();
      const floor = 50;
      const log: string[] = [];
      const at: Record<string, number> = {};
      const elapsed = stopwatch();
      const mark = (name: string) => {
        log.push(name);
        at[name] = elapsed();
      };
      const conn = rig.connection(
        upstream.endpoint,
        {
          onConnect: () => mark(log.includes('connect') ? 'connect again' : 'connect'),
          onReset: (error) => mark(`reset:${(error as ConnmanError).code}`),
          onReconnect: () => mark('reconnect'),
        },
        { backoff: { initialDelayMillis: floor, maxDelayMillis: 200 } },
      );
      await next(conn.connect(), 'connect');
      await upstream.restart();
      await next(conn, 'reconnect');
      expect(log).toEqual(['connect', 'reset:ERR_CONNECTION_CLOSED', 'connect again', 'reconnect']);
      expect(at['connect again'] - at['reset:ERR_CONNECTION_CLOSED']).toBeGreaterThanOrEqual(floor - 1);
      expect(conn.connected).toBe(true);
    });

    it('row 6: a resume function returned by onReset runs once, instead of the connect callbacks', async () => {
      const upstream = await rig.server();
      const log: string[] = [];
      let resets = 0;
      const conn = rig.connection(upstream.endpoint, {
        onConnect: () => void log.push('connect'),
        onReconnect: () => void log.push('reconnect'),
        onReset: () => {
          log.push('reset');
          return ++resets === 1
            ? (socket: ConnmanSocket) => void log.push(`resume:${socket === conn.socket}`)
            : undefined;
        },
      });
      await next(conn.connect(), 'connect');
      await upstream.restart();
      await next(conn, 'reconnect');
      await upstream.restart();
      await next(conn, 'reconnect');
      expect(log).toEqual(['connect', 'reset', 'resume:true', 'reset', 'connect', 'reconnect']);
    });

    it('row 6: every connection of a pool comes back after a restart, each after at least the floor, counts consistent', async () => {
      const upstream = await rig.server();
      const floor = 50;
      const p = rig.pool({ ...upstream.endpoint, min: 3, max: 3, backoff: { initialDelayMillis: floor } });
      await p.open();
      const lostAt = new Map<unknown, number>();
      const delays: number[] = [];
      const elapsed = stopwatch();
      p.on('reset', (_error, connection) => void lostAt.set(connection, elapsed()));
      p.on('reconnect', (connection) => void delays.push(elapsed() - lostAt.get(connection)!));
      await upstream.restart();
      await until(p, 'reconnect', () => delays.length === 3);
      for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(floor - 1);
      expect(p.stats()).toMatchObject({ size: 3, connected: 3, idle: 3 });
      expectConsistent(p);
    });
  });

  describe('row 12: self-signed TLS', () => {
    async function tlsServer() {
      return rig.server({ tls: selfSigned });
    }

    it('row 12: a self-signed certificate is rejected by default (tls: true, tls: {})', async () => {
      const server = await tlsServer();
      for (const tls of [true, {}] as const) {
        const conn = rig.connection({ ...server.endpoint, tls }, {}, noRetry);
        const [error] = await next<[NodeJS.ErrnoException]>(conn.connect(), 'connectError');
        expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
        expect(conn.connected).toBe(false);
        await conn.disconnect();
      }
      const p = rig.pool({ ...server.endpoint, tls: true, min: 1 });
      const error = await rejection(p.open({ timeoutMillis: 200 }));
      expect((error.cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    });

    it('row 12: the certificate given as ca is accepted, and the socket is authorized', async () => {
      const server = await tlsServer();
      const p = rig.pool({ ...server.endpoint, tls: { ca: selfSigned.cert }, min: 1, max: 1 });
      await p.open();
      const lease = await p.acquire();
      expect((lease.socket as TLSSocket).authorized).toBe(true);
      lease.socket.write('over tls');
      const [data] = await next<[Buffer]>(lease.socket, 'data');
      expect(String(data)).toBe('over tls');
      lease.release();
    });

    it('row 12: rejectUnauthorized: undefined still verifies (rejected without ca, accepted with it)', async () => {
      const server = await tlsServer();
      const rejected = rig.connection({ ...server.endpoint, tls: { rejectUnauthorized: undefined } }, {}, noRetry);
      const [error] = await next<[NodeJS.ErrnoException]>(rejected.connect(), 'connectError');
      expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      const accepted = rig.connection(
        { ...server.endpoint, tls: { rejectUnauthorized: undefined, ca: selfSigned.cert } },
        {},
        noRetry,
      );
      const [socket] = await next<[TLSSocket]>(accepted.connect(), 'connect');
      expect(socket.authorized).toBe(true);
    });
  });

  describe('row 30: many pools reconnecting', () => {
    it('row 30: 50 pools reconnecting after a server restart spread their first reconnects over the backoff window (no herd)', async () => {
      const upstream = await rig.server();
      // The first window after a loss is [floor, floor * factor]: one second wide, so that no pause of
      // a busy machine can pass for a herd.
      const [floor, ceiling] = [1000, 2000];
      const pools: ConnectionPool[] = [];
      for (let i = 0; i < 50; i++) {
        pools.push(
          rig.pool({
            ...upstream.endpoint,
            name: `herd-${i}`,
            min: 1,
            max: 1,
            backoff: { initialDelayMillis: floor, maxDelayMillis: 10_000, factor: 2, jitter: 1 },
          }),
        );
      }
      await Promise.all(pools.map((p) => p.open()));
      const lostAt = new Map<ConnectionPool, number>();
      const delays: number[] = [];
      const elapsed = stopwatch();
      let allBack!: () => void;
      const back = new Promise<void>((resolve) => (allBack = resolve));
      for (const p of pools) {
        p.once('reset', () => void lostAt.set(p, elapsed()));
        p.once('reconnect', () => {
          delays.push(elapsed() - lostAt.get(p)!);
          if (delays.length === pools.length) allBack();
        });
      }
      await upstream.restart();
      await back;
      delays.sort((a, b) => a - b);
      // Never before the floor; the first attempts land within the window (an attempt that
      // found the server still down retries once more, within the next window).
      expect(delays[0]).toBeGreaterThanOrEqual(floor - 1);
      expect(delays[delays.length - 1]).toBeLessThan(2 * ceiling + MARGIN);
      // Spread: they cover at least half the window, and no 100 ms slice (a tenth of it) holds
      // more than half the pools (uniform jitter puts about 5 in each).
      expect(delays[delays.length - 1] - delays[0]).toBeGreaterThanOrEqual((ceiling - floor) / 2);
      let crowd = 0;
      for (let i = 0, j = 0; i < delays.length; i++) {
        while (delays[i] - delays[j] > 100) j++;
        crowd = Math.max(crowd, i - j + 1);
      }
      expect(crowd).toBeLessThanOrEqual(25);
      for (const p of pools) expect(p.stats().connected).toBe(1);
    });
  });
});
