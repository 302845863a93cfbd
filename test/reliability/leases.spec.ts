// Reliability matrix, rows 13-24: waiting, lending and giving back.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { lines, type Lease } from 'nestjs-connman';
import { refusedPort } from 'nestjs-connman/testing';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import {
  Rig,
  expectConsistent,
  garbageCollector,
  heapAfterGc,
  listenerCounts,
  GatedLookup,
  rejection,
  settlesAtOnce,
  stopwatch,
} from './kit.js';

const MARGIN = 2000;

describe('reliability matrix: leases', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 13: pool exhausted', () => {
    it('row 13: an exhausted pool rejects a waiting acquire with ERR_ACQUIRE_TIMEOUT within timeout + margin, leaves no waiter and clears its timer', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, acquireTimeoutMillis: 100 });
      await p.open();
      const held = await p.acquire();
      const timers = rig.timers();
      const calls: [() => Promise<unknown>, number][] = [
        [() => p.acquire(), 100],
        [() => p.acquire({ timeoutMillis: 60 }), 60],
      ];
      for (const [call, deadline] of calls) {
        const elapsed = stopwatch();
        const error = await rejection(call());
        const took = elapsed();
        expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
        expect(error.pool).toBe('matrix');
        expect(error.message).toMatch(/size 1\/1, leased 1, idle 0, waiting 1/);
        expect(took).toBeGreaterThanOrEqual(deadline - 1);
        expect(took).toBeLessThan(deadline + MARGIN);
        expect(p.stats().waiting).toBe(0);
        expect(await timers.pending()).toBe(0);
      }
      held.release();
      expectConsistent(p);
    });

    it('row 13: 1,000 waiters of an exhausted pool all reject at their deadline, none early; nothing is left waiting', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, acquireTimeoutMillis: 150 });
      await p.open();
      const held = await p.acquire();
      const timers = rig.timers();
      const elapsed = stopwatch();
      const settled: number[] = [];
      const waits = Array.from({ length: 1000 }, (_, i) =>
        rejection(i % 2 === 0 ? p.acquire() : p.acquire({ timeoutMillis: 100 })).then((error) => {
          settled.push(elapsed());
          return error;
        }),
      );
      expect(p.stats().waiting).toBe(1000);
      const errors = await Promise.all(waits);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_ACQUIRE_TIMEOUT']));
      expect(Math.min(...settled)).toBeGreaterThanOrEqual(99);
      expect(Math.max(...settled)).toBeLessThan(150 + MARGIN);
      expect(p.stats().waiting).toBe(0);
      expect(await timers.pending()).toBe(0);
      held.release();
    });
  });

  describe('row 14: peer down for good', () => {
    it('row 14: while the peer is down, every waiter rejects at its own deadline with the last connect error as cause; attempts follow the backoff', async () => {
      const port = await refusedPort();
      const floor = 20;
      const p = rig.pool({
        host: '127.0.0.1',
        port,
        min: 0,
        max: 2,
        acquireTimeoutMillis: 250,
        backoff: { initialDelayMillis: floor, maxDelayMillis: 100 },
      });
      const elapsed = stopwatch();
      const deadlines = [100, 200, 250, 300];
      const outcomes = deadlines.map((deadline) =>
        rejection(deadline === 250 ? p.acquire() : p.acquire({ timeoutMillis: deadline })).then((error) => ({
          error,
          at: elapsed(),
        })),
      );
      const results = await Promise.all(outcomes);
      results.forEach(({ error, at }, i) => {
        expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
        expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
        expect(error.message).toContain('last connect error');
        expect(at).toBeGreaterThanOrEqual(deadlines[i] - 1);
        expect(at).toBeLessThan(deadlines[i] + MARGIN);
      });
      // At most max (2) attempts at once, each stream at most one attempt per floor.
      expect(p.stats().endpoints[0].failures).toBeLessThanOrEqual(2 * (Math.floor(elapsed() / floor) + 1));
      expect(p.stats().waiting).toBe(0);
      expectConsistent(p);
    });
  });

  describe('row 15: peer comes back while callers wait', () => {
    it('row 15: waiters are served as soon as a connection is up, within their deadlines', async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      await proxy.down();
      const p = rig.pool({
        ...proxy.endpoint,
        min: 1,
        max: 3,
        backoff: { initialDelayMillis: 20, maxDelayMillis: 40 },
      });
      const served: { lease: Lease; at: number; inConnectTurn: boolean }[] = [];
      // The turn of the event loop in which a connection came up: open until its setImmediate runs.
      let connectTurn = 0;
      let turns = 0;
      const onUp = (): void => {
        const turn = ++turns;
        connectTurn = turn;
        setImmediate(() => void (connectTurn === turn && (connectTurn = 0)));
      };
      p.on('connect', onUp);
      p.on('reconnect', onUp);
      const elapsed = stopwatch();
      const waits = Array.from({ length: 3 }, () =>
        p.acquire({ timeoutMillis: 5000 }).then((lease) => {
          served.push({ lease, at: elapsed(), inConnectTurn: connectTurn !== 0 });
          return lease;
        }),
      );
      await next(p, 'createError');
      await proxy.up();
      const upAt = elapsed();
      const leases = await Promise.all(waits);
      expect(new Set(leases.map((l) => l.socket)).size).toBe(3);
      for (const { at, inConnectTurn } of served) {
        expect(at).toBeLessThan(5000);
        // Served in the turn its connection came up: no waiting beyond the connect.
        expect(inConnectTurn).toBe(true);
        // And promptly after the peer came back: at most one backoff delay (40 ms) and a connect.
        expect(at - upAt).toBeLessThan(40 + MARGIN);
      }
      for (const lease of leases) lease.release();
      expectConsistent(p);
    });
  });

  describe('row 16: release hands off', () => {
    it('row 16: a release hands the connection to the oldest waiter, in arrival order', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1 });
      const first = await p.acquire();
      const order: number[] = [];
      const waits = [1, 2, 3, 4, 5].map((n) =>
        p.acquire().then((lease) => {
          order.push(n);
          return lease;
        }),
      );
      first.release();
      let previous = first;
      for (const wait of waits) {
        const lease = await wait;
        expect(lease.socket).toBe(previous.socket);
        expect(p.stats()).toMatchObject({ leased: 1, idle: 0 });
        lease.release();
        previous = lease;
      }
      expect(order).toEqual([1, 2, 3, 4, 5]);
      expect(p.stats()).toMatchObject({ leased: 0, idle: 1, waiting: 0 });
      expectConsistent(p);
    });
  });

  describe('row 17: release after the waiter timed out', () => {
    it('row 17: a release after the waiter timed out hands the connection to the next waiter, or to idle; counts unchanged', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const gone = rejection(p.acquire({ timeoutMillis: 10 }));
      const staying = p.acquire({ timeoutMillis: 5000 });
      expect((await gone).code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(p.stats()).toMatchObject({ size: 1, leased: 1, waiting: 1 });
      held.release();
      const lease = await staying;
      expect(lease.socket).toBe(held.socket);
      // Now with nobody left waiting: it goes idle.
      const alsoGone = rejection(p.acquire({ timeoutMillis: 10 }));
      expect((await alsoGone).code).toBe('ERR_ACQUIRE_TIMEOUT');
      lease.release();
      expect(p.stats()).toMatchObject({ size: 1, idle: 1, leased: 0, waiting: 0 });
      expectConsistent(p);
    });
  });

  describe('row 18: connect finishing after its waiter left', () => {
    it('row 18: connects that finish after their waiters left are kept within max (or closed), never more than max', async () => {
      const upstream = await rig.server();
      // Name resolution answers only once every waiter has left: the connects finish after them.
      const dns = new GatedLookup();
      const p = rig.pool({
        host: 'slow.invalid',
        port: upstream.port,
        min: 0,
        max: 2,
        maxConcurrentCreates: 2,
        idleTimeoutMillis: 50,
        reapIntervalMillis: 10,
        socketOptions: { lookup: dns.lookup },
      });
      const sizes: number[] = [];
      const watch = () => void sizes.push(p.stats().size);
      for (const event of ['connect', 'createError', 'destroy', 'acquire', 'release']) p.on(event as 'connect', watch);
      const errors = await Promise.all(Array.from({ length: 10 }, () => rejection(p.acquire({ timeoutMillis: 5 }))));
      for (const error of errors) expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(p.stats()).toMatchObject({ waiting: 0, connected: 0 });
      expect(p.stats().size).toBeLessThanOrEqual(2);
      expect(dns.asked).toBe(p.stats().size);
      dns.answer();
      await until(p, 'connect', () => p.stats().connected === p.stats().size);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
      expect(upstream.accepted).toBeLessThanOrEqual(2);
      // Kept idle, then closed by the reaper (min 0).
      await until(p, 'destroy', () => p.stats().size === 0);
      expectConsistent(p);
    });
  });

  describe('row 19: double release / foreign release', () => {
    it('row 19: a double or foreign release throws ERR_NOT_LEASED and changes nothing; the next borrows get distinct connections', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 2, max: 2 });
      const other = rig.pool({ ...upstream.endpoint, name: 'other', min: 1, max: 1 });
      await p.open();
      const lease = await p.acquire();
      lease.release();
      const before = p.stats();
      expect(() => lease.release()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => lease.destroy()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => p.release(lease)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      const foreign = await other.acquire();
      expect(() => p.release(foreign)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => p.destroy(foreign)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => p.release({} as Lease)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(() => p.release(null as never)).toThrow(expect.objectContaining({ code: 'ERR_NOT_LEASED' }));
      expect(foreign.released).toBe(false);
      foreign.release();
      expect(p.stats()).toEqual(before);
      // No duplicate idle entry: two borrows get two connections, a third finds none.
      const [a, b] = [await p.acquire(), await p.acquire()];
      expect(a.socket).not.toBe(b.socket);
      expect(p.tryAcquire()).toBeUndefined();
      a.release();
      b.release();
      expect(p.stats()).toMatchObject({ idle: 2, leased: 0 });
      expectConsistent(p);
    });
  });

  describe('row 20: wait list full', () => {
    it('row 20: an acquire beyond maxWaitingClients rejects at once with ERR_TOO_MANY_WAITERS', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, maxWaitingClients: 3 });
      const held = await p.acquire();
      const waiting = [p.acquire(), p.acquire(), p.acquire()];
      const extra = rejection(p.acquire({ timeoutMillis: 60_000 }));
      expect(await settlesAtOnce(extra)).toBe(true);
      expect((await extra).code).toBe('ERR_TOO_MANY_WAITERS');
      expect(p.stats().waiting).toBe(3);
      held.release();
      for (const w of waiting) (await w).release();
      // maxWaitingClients 0: nobody may wait.
      const none = rig.pool({ ...upstream.endpoint, name: 'none', min: 1, max: 1, maxWaitingClients: 0 });
      await none.open();
      const only = await none.acquire();
      const refused = rejection(none.acquire());
      expect(await settlesAtOnce(refused)).toBe(true);
      expect((await refused).code).toBe('ERR_TOO_MANY_WAITERS');
      only.release();
      expectConsistent(p);
    });
  });

  describe('row 21: AbortSignal', () => {
    it('row 21: 1,000 acquires on one AbortSignal reject with ERR_ACQUIRE_ABORTED, leave no waiter, hold one abort listener and raise no warning', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1 });
      const held = await p.acquire();
      const controller = new AbortController();
      const waits = Array.from({ length: 1000 }, () => rejection(p.acquire({ signal: controller.signal })));
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
      expect(p.stats().waiting).toBe(1000);
      controller.abort(new Error('caller gave up'));
      const errors = await Promise.all(waits);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_ACQUIRE_ABORTED']));
      expect((errors[0].cause as Error).message).toBe('caller gave up');
      expect(p.stats().waiting).toBe(0);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      // An already aborted signal rejects at once.
      const late = rejection(p.acquire({ signal: controller.signal }));
      expect(await settlesAtOnce(late)).toBe(true);
      expect((await late).code).toBe('ERR_ACQUIRE_ABORTED');
      held.release();
      expectConsistent(p);
    });

    it('row 21: one long-lived signal shared by 10,000 acquires that are served keeps no listener behind', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, framing: lines() });
      const controller = new AbortController();
      const signal = controller.signal;
      for (let round = 0; round < 100; round++) {
        const held = await p.acquire({ signal });
        const waits = Array.from({ length: 99 }, () => p.acquire({ signal }));
        expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
        held.release();
        for (const wait of waits) (await wait).release();
      }
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      // The same for requests that are answered.
      await Promise.all(Array.from({ length: 1000 }, (_, i) => p.request(`r${i}\n`, { signal })));
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      expectConsistent(p);
    });
  });

  describe('row 22: many borrow/release cycles', () => {
    it('row 22: 10,000 borrow/release cycles keep socket listener counts constant and the heap flat', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      const gc = garbageCollector();
      const sockets = p.connections.map((c) => c.socket!);
      const poolListeners = listenerCounts(p);
      const cycle = async (): Promise<void> => {
        // Two idle grants, then two hand-offs through the wait list.
        const [a, b] = await Promise.all([p.acquire(), p.acquire()]);
        const c = p.acquire();
        const d = p.acquire({ timeoutMillis: 5000 });
        a.release();
        b.release();
        (await c).release();
        (await d).release();
      };
      for (let i = 0; i < 1000; i++) await cycle(); // warm up: code compiled, pools of objects filled
      const before = sockets.map((s) => listenerCounts(s));
      const heapBefore = heapAfterGc(gc);
      for (let i = 0; i < 10_000; i++) await cycle();
      const heapAfter = heapAfterGc(gc);
      expect(sockets.map((s) => listenerCounts(s))).toEqual(before);
      expect(listenerCounts(p)).toEqual(poolListeners);
      expect(p.stats()).toMatchObject({ size: 2, idle: 2, leased: 0, waiting: 0 });
      // 40,000 grants: a leak of 50 bytes per grant would show as 2 MiB. Measured noise of this
      // figure in Jest (three full collections before each reading): within +-0.7 MiB.
      expect(heapAfter - heapBefore).toBeLessThan(2 * 1024 * 1024);
    });
  });

  describe('row 23: validate false / throws / hangs', () => {
    it.each([
      ['returns false', () => false],
      [
        'throws',
        () => {
          throw new Error('ping failed');
        },
      ],
      ['rejects', () => Promise.reject(new Error('ping failed'))],
      ['hangs', () => new Promise<boolean>(() => undefined)],
    ])(
      'row 23: a connection whose validate() %s is replaced within the caller deadline',
      async (_what, failing: () => unknown) => {
        const upstream = await rig.server();
        let calls = 0;
        const p = rig.pool({
          ...upstream.endpoint,
          min: 1,
          max: 1,
          validateTimeoutMillis: 80,
          validate: () => (++calls === 1 ? (failing() as boolean) : true),
        });
        await p.open();
        const first = p.connections[0].socket!;
        const elapsed = stopwatch();
        const lease = await p.acquire({ timeoutMillis: 3000 });
        expect(elapsed()).toBeLessThan(3000);
        expect(lease.socket).not.toBe(first);
        expect(lease.socket.destroyed).toBe(false);
        expect(first.destroyed).toBe(true);
        expect(calls).toBe(2);
        lease.release();
        expectConsistent(p);
      },
    );
  });

  describe('row 24: idle eviction and max lifetime', () => {
    it('row 24: connections above min idle past idleTimeoutMillis are closed, shrinking to min', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 3, idleTimeoutMillis: 60, reapIntervalMillis: 10 });
      const leases = await Promise.all([p.acquire(), p.acquire(), p.acquire()]);
      expect(p.size).toBe(3);
      for (const lease of leases) lease.release();
      const elapsed = stopwatch();
      await until(p, 'destroy', () => p.size === 1);
      expect(elapsed()).toBeGreaterThanOrEqual(59);
      expect(p.stats()).toMatchObject({ size: 1, connected: 1, idle: 1 });
      expectConsistent(p);
    });

    it('row 24: maxLifetimeMillis replaces idle connections, and a leased one only after its release', async () => {
      const upstream = await rig.server();
      const lifetime = 80;
      const p = rig.pool({ ...upstream.endpoint, min: 2, max: 2, maxLifetimeMillis: lifetime });
      await p.open();
      const lease = await p.acquire();
      const destroyed: unknown[] = [];
      p.on('destroy', (connection) => void destroyed.push(connection));
      // The idle connection is replaced twice: each lifetime is at least 90% of 80 ms, so more than
      // 80 ms have passed since the leased connection came up; it is past its lifetime too.
      await until(p, 'destroy', () => destroyed.length >= 2);
      expect(destroyed).not.toContain(lease.connection);
      expect(lease.socket.destroyed).toBe(false);
      expect(p.stats().leased).toBe(1);
      lease.release();
      expect(destroyed).toContain(lease.connection);
      await until(p, 'connect', () => p.stats().connected === 2);
      const fresh = await p.acquire();
      expect(fresh.connection).not.toBe(lease.connection);
      fresh.release();
      expectConsistent(p);
    });
  });
});
