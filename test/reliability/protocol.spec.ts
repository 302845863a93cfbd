// Reliability matrix, rows 33-41: handshakes, requests, heartbeats, framing, and the seams
// between a waiter's life, a lease's life and user callbacks.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import {
  lengthPrefixed,
  lines,
  type ConnectionPool,
  type ConnmanError,
  type FrameDecoder,
  type Lease,
} from 'nestjs-connman';
import { next, until } from '../helpers/events.js';
import { flushIo, useScope } from '../helpers/resources.js';
import { HoldingLines, Rig, expectConsistent, onLines, rejection, settlesAtOnce, stopwatch } from './kit.js';

const MARGIN = 2000;

/** A validate() whose verdicts the test gives one by one. */
class Verdicts {
  private pending: ((ok: boolean) => void)[] = [];
  private askedWaiters: (() => void)[] = [];
  asked = 0;
  passAll = false;
  readonly validate = (): boolean | Promise<boolean> => {
    this.asked++;
    if (this.passAll) return true;
    for (const resolve of this.askedWaiters.splice(0)) resolve();
    return new Promise((resolve) => this.pending.push(resolve));
  };
  /** Resolves once a validation is waiting for its verdict. */
  waiting(): Promise<void> {
    return this.pending.length > 0 ? Promise.resolve() : new Promise((resolve) => this.askedWaiters.push(resolve));
  }
  give(ok: boolean): void {
    this.pending.shift()?.(ok);
  }
}

describe('reliability matrix: protocol and seams', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 33: handshake hangs', () => {
    it('row 33: a handshake that hangs ends at connectTimeoutMillis with ERR_CONNECT_TIMEOUT; never lent, picked or counted connected; the backoff applies', async () => {
      const upstream = await rig.server();
      const accepts: number[] = [];
      const elapsed = stopwatch();
      upstream.on('connection', () => void accepts.push(elapsed()));
      const floor = 80;
      const callbacks: string[] = [];
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        connectTimeoutMillis: 100,
        backoff: { initialDelayMillis: floor, maxDelayMillis: floor, jitter: 0 },
        handshake: () => new Promise(() => undefined),
        callbacks: { onConnect: () => void callbacks.push('connect') },
      });
      const failures: { error: ConnmanError; at: number }[] = [];
      p.on('createError', (error) => void failures.push({ error: error as ConnmanError, at: elapsed() }));
      const openedAt = elapsed(); // the first attempt starts in open()
      const opening = rejection(p.open({ timeoutMillis: 150 }));
      const acquiring = rejection(p.acquire({ timeoutMillis: 150 }));
      await until(p, 'createError', () => failures.length >= 1);
      expect(failures[0].error.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(failures[0].error.message).toMatch(/handshake included/);
      expect(failures[0].at - openedAt).toBeGreaterThanOrEqual(99);
      expect(failures[0].at - openedAt).toBeLessThan(100 + MARGIN);
      // While it handshakes: not counted, not picked, not lent.
      await upstream.waitForConnection(2);
      expect(p.connections[0].connected).toBe(false);
      expect(p.stats()).toMatchObject({ connected: 0, idle: 0 });
      expect(() => p.pick()).toThrow(expect.objectContaining({ code: 'ERR_NO_CONNECTION' }));
      expect(p.tryAcquire()).toBeUndefined();
      expect((await opening).code).toBe('ERR_CONNECT_TIMEOUT');
      expect((await acquiring).code).toBe('ERR_ACQUIRE_TIMEOUT');
      // The backoff: the second attempt came at least the floor after the first failed.
      expect(accepts[1] - failures[0].at).toBeGreaterThanOrEqual(floor - 1);
      expect(callbacks).toEqual([]);
      expectConsistent(p);
    });
  });

  describe('row 34: handshake rejects', () => {
    it.each([
      ['rejects', (error: Error) => Promise.reject(error)],
      [
        'throws',
        (error: Error) => {
          throw error;
        },
      ],
    ])(
      'row 34: a handshake that %s fails the attempt with ERR_HANDSHAKE_FAILED (cause: the user error), destroys the socket, backs off and runs no callback',
      async (_how, fail: (error: Error) => unknown) => {
        const upstream = await rig.server();
        const accepts: number[] = [];
        const elapsed = stopwatch();
        upstream.on('connection', () => void accepts.push(elapsed()));
        const floor = 60;
        const refusal = new Error('AUTH refused');
        const callbacks: string[] = [];
        const p = rig.pool({
          ...upstream.endpoint,
          min: 1,
          max: 1,
          backoff: { initialDelayMillis: floor, maxDelayMillis: floor, jitter: 0 },
          handshake: () => fail(refusal),
          callbacks: {
            onConnect: () => void callbacks.push('connect'),
            onReset: () => void callbacks.push('reset'),
            onData: () => void callbacks.push('data'),
          },
        });
        const failures: { error: ConnmanError; at: number }[] = [];
        p.on('createError', (error) => void failures.push({ error: error as ConnmanError, at: elapsed() }));
        await p.open({ wait: false });
        const serverSide = await upstream.nextConnection();
        await until(p, 'createError', () => failures.length >= 1);
        const { error } = failures[0];
        expect(error.code).toBe('ERR_HANDSHAKE_FAILED');
        expect(error.cause).toBe(refusal);
        expect(error.message).toContain(`127.0.0.1:${upstream.port}`);
        // Destroyed: the peer sees it close.
        if (!serverSide.closed) await next(serverSide, 'close');
        await upstream.waitForConnection(2);
        expect(accepts[1] - failures[0].at).toBeGreaterThanOrEqual(floor - 1);
        expect(callbacks).toEqual([]);
        expect(p.stats().connected).toBe(0);
      },
    );
  });

  describe('row 35: reset with requests outstanding', () => {
    it('row 35: a reset with 1,000 requests outstanding rejects every one at once with ERR_CONNECTION_CLOSED; none resolves, none hangs', async () => {
      const server = new HoldingLines(() => true); // reads, never answers
      const upstream = await rig.server({ handler: server.handler });
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, framing: lines() });
      await p.open();
      let settled = 0;
      const requests = Array.from({ length: 1000 }, (_, i) =>
        p.request(`r${i}\n`).then(
          (reply) => {
            settled++;
            return `resolved:${String(reply)}`;
          },
          (error: ConnmanError) => {
            settled++;
            return error;
          },
        ),
      );
      await server.until(1000);
      expect(p.stats().pendingRequests).toBe(1000);
      const reset = next<[Error]>(p, 'reset');
      await upstream.resetAll();
      const [cause] = await reset;
      // Every one settled in the turn the reset was seen.
      expect(settled).toBe(1000);
      const results = await Promise.all(requests);
      for (const result of results) {
        expect(typeof result).not.toBe('string');
        expect((result as ConnmanError).code).toBe('ERR_CONNECTION_CLOSED');
        expect((result as ConnmanError).cause).toBe(cause);
      }
      expect((results[0] as ConnmanError).message).toMatch(/may or may not have reached the peer/);
      expect(p.stats()).toMatchObject({ pendingRequests: 0, waitingRequests: 0 });
      await until(p, 'reconnect', () => p.stats().connected === 1);
      expectConsistent(p);
    });

    it('row 35: on a single connection, a reset rejects every outstanding request at once, and new ones are served after the reconnect', async () => {
      const server = new HoldingLines((line) => line.startsWith('held'));
      const upstream = await rig.server({ handler: server.handler });
      const conn = rig.connection(upstream.endpoint, undefined, { framing: lines() });
      await conn.waitUntilConnected(2000);
      const outstanding = Array.from({ length: 100 }, (_, i) => rejection(conn.request(`held ${i}\n`)));
      await server.until(100);
      await upstream.resetAll();
      const errors = await Promise.all(outstanding);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_CONNECTION_CLOSED']));
      expect((await conn.request('fresh\n')).toString()).toBe('fresh');
    });
  });

  describe('row 36: request timeout, then the late reply', () => {
    it('row 36: a request that times out rejects with ERR_REQUEST_TIMEOUT; the connection resets; its late reply answers nobody and reaches no handler', async () => {
      const server = new HoldingLines((line) => line.startsWith('slow'));
      const upstream = await rig.server({ handler: server.handler });
      const pushes: string[] = [];
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        requestTimeoutMillis: 80,
        callbacks: { onData: (frame) => void pushes.push(frame.toString()) },
      });
      await p.open();
      const elapsed = stopwatch();
      const slow = rejection(p.request('slow\n'));
      const error = await slow;
      expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(79);
      expect(elapsed()).toBeLessThan(80 + MARGIN);
      server.releaseHeld(); // the late reply, on the old socket
      await until(p, 'reconnect', () => p.stats().connected === 1);
      const replies = await Promise.all(['a', 'b', 'c'].map((x) => p.request(`${x}\n`, { timeoutMillis: 5000 })));
      expect(replies.map(String)).toEqual(['a', 'b', 'c']);
      expect(pushes).toEqual([]);
    });

    it('row 36: with resetOnRequestTimeout false, the late reply is consumed in order: it never answers the next request nor reaches a handler', async () => {
      // The peer answers in order, late: it holds every reply until released.
      const server = new HoldingLines(() => true);
      const upstream = await rig.server({ handler: server.handler });
      const pushes: string[] = [];
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        requestTimeoutMillis: 60,
        resetOnRequestTimeout: false,
        callbacks: { onData: (frame) => void pushes.push(frame.toString()) },
      });
      await p.open();
      expect((await rejection(p.request('slow-1\n'))).code).toBe('ERR_REQUEST_TIMEOUT');
      const next1 = p.request('after\n', { timeoutMillis: 5000 });
      await server.until(2);
      server.hold = () => false;
      server.releaseHeld(); // 'slow-1' comes now, before 'after'
      expect((await next1).toString()).toBe('after');
      expect(pushes).toEqual([]);
      expect(p.connections[0].connected).toBe(true);
      expect(p.stats().pendingRequests).toBe(0);
    });

    it('row 36: an aborted request rejects with ERR_REQUEST_ABORTED; its reply, when it comes, is consumed in order', async () => {
      const server = new HoldingLines(() => true); // answers in order, when released
      const upstream = await rig.server({ handler: server.handler });
      const pushes: string[] = [];
      const conn = rig.connection(
        upstream.endpoint,
        { onData: (f) => void pushes.push(f.toString()) },
        { framing: lines() },
      );
      await conn.waitUntilConnected(2000);
      const controller = new AbortController();
      const aborted = rejection(conn.request('first\n', { signal: controller.signal }));
      const second = conn.request('second\n');
      await server.until(2);
      controller.abort();
      expect(await settlesAtOnce(aborted)).toBe(true);
      expect((await aborted).code).toBe('ERR_REQUEST_ABORTED');
      // The reply to 'first' comes, then the one to 'second': the first is consumed, not given to 'second'.
      server.releaseHeld();
      expect((await second).toString()).toBe('second');
      expect(pushes).toEqual([]);
    });
  });

  describe('row 37: heartbeat unanswered', () => {
    /** Answers PING with PONG, echoes the rest; logs each line with its socket. */
    function pingServer(log: { line: string; socket: Socket }[]) {
      return (socket: Socket) =>
        onLines(socket, (line) => {
          log.push({ line, socket });
          socket.write(line === 'PING' ? 'PONG\n' : `${line}\n`);
        });
    }

    it('row 37: a stalled peer is reset with ERR_HEARTBEAT_TIMEOUT within interval + timeout, and the connection reconnects', async () => {
      const log: { line: string; socket: Socket }[] = [];
      const upstream = await rig.server({ handler: pingServer(log) });
      const proxy = await rig.proxy(upstream.endpoint);
      const [interval, timeout] = [60, 60];
      const p = rig.pool({
        ...proxy.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        heartbeat: { intervalMillis: interval, payload: 'PING\n', timeoutMillis: timeout },
      });
      await p.open();
      const conn = p.connections[0];
      const elapsed = stopwatch();
      let lastRead = 0;
      conn.on('data', () => void (lastRead = elapsed()));
      await until(conn, 'data', () => log.some((l) => l.line === 'PING'));
      proxy.stalled = true;
      const stalledAt = elapsed();
      const [error] = await next<[ConnmanError]>(p, 'reset');
      const resetAt = elapsed();
      expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
      // A heartbeat goes out after an interval of silence and gets its timeout: never sooner.
      expect(resetAt - lastRead).toBeGreaterThanOrEqual(interval + timeout - 2);
      expect(resetAt - stalledAt).toBeLessThan(interval + timeout + MARGIN);
      proxy.heal();
      await next(p, 'reconnect');
      expectConsistent(p);
    });

    it('row 37: heartbeats never touch a leased connection, however long the lease', async () => {
      const log: { line: string; socket: Socket }[] = [];
      const upstream = await rig.server({ handler: pingServer(log) });
      const p = rig.pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        framing: lines(),
        heartbeat: { intervalMillis: 20, payload: 'PING\n' },
      });
      await p.open();
      const lease = await p.acquire();
      const onLeased = () =>
        log.filter((l) => l.line === 'PING' && l.socket.remotePort === lease.socket.localPort).length;
      const before = onLeased();
      const pingsBefore = log.length;
      // Time passes, measured by the other connection's heartbeats: 5 intervals at least.
      const other = p.connections.find((c) => c !== lease.connection)!;
      await until(other, 'data', () => log.length >= pingsBefore + 5);
      expect(onLeased()).toBe(before);
      lease.release();
    });

    it('row 37: a connection is not lent while its heartbeat is in flight; it is lent once answered', async () => {
      let pingHeld!: (socket: Socket) => void;
      const held = new Promise<Socket>((resolve) => (pingHeld = resolve));
      const upstream = await rig.server({
        handler: (socket) =>
          onLines(socket, (line) => (line === 'PING' ? pingHeld(socket) : socket.write(`${line}\n`))),
      });
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        heartbeat: { intervalMillis: 20, payload: 'PING\n', timeoutMillis: 5000 },
      });
      await p.open();
      const peer = await held;
      expect(p.stats()).toMatchObject({ connected: 1, idle: 0, leased: 0 });
      expect(p.tryAcquire()).toBeUndefined();
      const acquiring = p.acquire({ timeoutMillis: 5000 });
      expect(p.stats().waiting).toBe(1);
      peer.write('PONG\n');
      const lease = await acquiring;
      expect(lease.connection).toBe(p.connections[0]);
      lease.release();
    });
  });

  describe('row 38: frame over maxFrameBytes, decoder throws', () => {
    it('row 38: a line over maxFrameBytes resets with ERR_PROTOCOL before much more than maxFrameBytes is buffered; no partial frame reaches a handler', async () => {
      const maxFrameBytes = 16 * 1024;
      const upstream = await rig.server({
        handler: (socket, count) => {
          if (count > 1) return void socket.write('fine\n');
          socket.write('ok\n');
          // Then a line that never ends: 4 MiB without a delimiter.
          const block = Buffer.alloc(64 * 1024, 'x');
          let sent = 0;
          const pump = (): void => {
            while (sent < 64 && !socket.destroyed) {
              sent++;
              if (!socket.write(block)) return void socket.once('drain', pump);
            }
          };
          pump();
        },
      });
      const frames: string[] = [];
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines({ maxFrameBytes }),
        callbacks: { onData: (frame) => void frames.push(frame.length > 10 ? `${frame.length} bytes` : String(frame)) },
      });
      await p.open({ wait: false });
      const conn = p.connections[0];
      let bytes = 0;
      const onChunk = (chunk: Buffer) => void (bytes += chunk.length);
      conn.on('data', onChunk);
      const [error] = await next<[ConnmanError]>(p, 'reset');
      conn.off('data', onChunk);
      expect(error.code).toBe('ERR_PROTOCOL');
      // Read (and held) before the reset: the limit plus at most one 64 KiB read.
      expect(bytes).toBeLessThanOrEqual(maxFrameBytes + 3 + 64 * 1024);
      await until(conn, 'frame', () => frames.includes('fine'));
      expect(frames.filter((f) => f !== 'ok')).toEqual(['fine']);
    });

    it('row 38: a length prefix announcing more than maxFrameBytes resets at once, before any of the payload is delivered', async () => {
      const upstream = await rig.server({
        handler: (socket, count) => {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(count === 1 ? 1_000_000 : 2);
          socket.write(Buffer.concat([header, Buffer.from(count === 1 ? 'partial payload' : 'ok')]));
        },
      });
      const frames: string[] = [];
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lengthPrefixed({ lengthBytes: 4, maxFrameBytes: 1024 }),
        callbacks: { onData: (frame) => void frames.push(String(frame)) },
      });
      await p.open({ wait: false });
      const [error] = await next<[ConnmanError]>(p, 'reset');
      expect(error.code).toBe('ERR_PROTOCOL');
      await until(p.connections[0], 'frame', () => frames.length === 1);
      expect(frames).toEqual(['ok']);
    });

    it('row 38: a decoder that throws resets with ERR_PROTOCOL (cause: its error); a fresh decoder serves the reconnection', async () => {
      const upstream = await rig.server({ handler: (socket) => void socket.write('data\n') });
      let made = 0;
      const corrupt = new Error('corrupt stream');
      const framing = (): FrameDecoder<string> => {
        const n = ++made;
        return {
          decode(chunk) {
            if (n === 1) throw corrupt;
            return [`decoder ${n}: ${chunk.toString().trim()}`];
          },
        };
      };
      const frames: string[] = [];
      const p = rig.pool<string>({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing,
        callbacks: { onData: (frame) => void frames.push(frame) },
      });
      await p.open({ wait: false });
      const [error] = await next<[ConnmanError]>(p, 'reset');
      expect(error.code).toBe('ERR_PROTOCOL');
      expect(error.cause).toBe(corrupt);
      await until(p.connections[0], 'frame', () => frames.length === 1);
      expect(frames).toEqual(['decoder 2: data']);
    });
  });

  describe('row 39: borrower kills its socket, then releases', () => {
    it.each([
      ['destroys', (s: Socket) => s.destroy()],
      ['destroys with an error', (s: Socket) => s.destroy(new Error('mine'))],
      ['ends', (s: Socket) => s.end()],
    ])(
      'row 39: a connection whose socket the borrower %s, then releases, is never handed to the next waiter; it is replaced',
      async (_how, kill) => {
        const upstream = await rig.server();
        const resets: Error[] = [];
        const p = rig.pool({
          ...upstream.endpoint,
          min: 1,
          max: 1,
          callbacks: { onReset: (e) => void resets.push(e) },
        });
        const lease = await p.acquire();
        const dead = lease.socket;
        dead.on('error', () => undefined);
        const waiter = p.acquire({ timeoutMillis: 5000 });
        kill(dead as Socket);
        lease.release();
        const fresh = await waiter;
        expect(fresh.socket).not.toBe(dead);
        expect(fresh.socket.destroyed).toBe(false);
        expect(resets).toHaveLength(1);
        fresh.release();
        expectConsistent(p);
      },
    );
  });

  describe('row 40: close, abort or timeout during validation', () => {
    it("row 40: close() while a waiter's connection is validated settles the waiter at once with ERR_POOL_CLOSED; no validation timer outlives close", async () => {
      const upstream = await rig.server();
      const verdicts = new Verdicts();
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validate: verdicts.validate,
        validateTimeoutMillis: 60_000,
      });
      await p.open();
      const timers = rig.timers();
      const waiter = rejection(p.acquire({ timeoutMillis: 60_000 }));
      await verdicts.waiting();
      const closing = p.close({ timeoutMillis: 0 });
      expect(await settlesAtOnce(waiter)).toBe(true);
      expect((await waiter).code).toBe('ERR_POOL_CLOSED');
      await closing;
      expect(await timers.pending()).toBe(0);
      verdicts.give(true); // a late verdict changes nothing
      await flushIo();
      expect(p.stats()).toMatchObject({ size: 0, leased: 0, waiting: 0 });
    });

    it("row 40: an abort while a waiter's connection is validated settles it at once with ERR_ACQUIRE_ABORTED; the verdict goes to the next waiter", async () => {
      const upstream = await rig.server();
      const verdicts = new Verdicts();
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, validate: verdicts.validate });
      await p.open();
      const controller = new AbortController();
      const first = rejection(p.acquire({ signal: controller.signal }));
      await verdicts.waiting();
      const second = p.acquire({ timeoutMillis: 5000 });
      controller.abort();
      expect(await settlesAtOnce(first)).toBe(true);
      expect((await first).code).toBe('ERR_ACQUIRE_ABORTED');
      verdicts.give(true);
      const lease = await second;
      expect(lease.socket).toBe(p.connections[0].socket);
      expect(verdicts.asked).toBe(1);
      lease.release();
      expectConsistent(p);
    });

    it("row 40: a deadline passing while a waiter's connection is validated settles it then with ERR_ACQUIRE_TIMEOUT, whatever the validation does", async () => {
      const upstream = await rig.server();
      const verdicts = new Verdicts();
      const p = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        validate: verdicts.validate,
        validateTimeoutMillis: 60_000,
      });
      await p.open();
      const elapsed = stopwatch();
      const error = await rejection(p.acquire({ timeoutMillis: 80 }));
      expect(error.code).toBe('ERR_ACQUIRE_TIMEOUT');
      expect(elapsed()).toBeGreaterThanOrEqual(79);
      expect(elapsed()).toBeLessThan(80 + MARGIN);
      verdicts.passAll = true;
      verdicts.give(true);
      const lease = await p.acquire();
      lease.release();
      expectConsistent(p);
    });
  });

  describe('row 41: callbacks that call back into the pool', () => {
    it('row 41: acquire() inside onReset gets a live connection, never the one that reset', async () => {
      const upstream = await rig.server();
      let inside: Promise<Lease> | undefined;
      const p: ConnectionPool = rig.pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        callbacks: {
          onReset: () => {
            inside ??= p.acquire({ timeoutMillis: 5000 });
          },
        },
      });
      await p.open();
      const victim = p.connections[0];
      const dying = victim.socket;
      victim.reset();
      const lease = await inside!;
      expect(lease.socket).not.toBe(dying);
      expect(lease.socket.destroyed).toBe(false);
      lease.release();
      expectConsistent(p);
    });

    it('row 41: release() inside onData (on the reply to the borrower) hands the connection on, 200 times in a row, counts consistent', async () => {
      const upstream = await rig.server();
      const leases = new Map<unknown, Lease>();
      const granted: boolean[] = [];
      const p: ConnectionPool = rig.pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        callbacks: {
          onData: (_chunk, context) => {
            const lease = leases.get(context.connection);
            leases.delete(context.connection);
            lease?.release();
          },
        },
      });
      const borrow = async (i: number): Promise<void> => {
        const lease = await p.acquire({ timeoutMillis: 5000 });
        granted.push(!lease.socket.destroyed);
        leases.set(lease.connection, lease);
        lease.socket.write(`${i}`);
      };
      await Promise.all(Array.from({ length: 200 }, (_, i) => borrow(i)));
      await until(p.connections[0], 'data', () => leases.size === 0);
      expect(granted).toHaveLength(200);
      expect(granted.every(Boolean)).toBe(true);
      expect(p.stats()).toMatchObject({ leased: 0, idle: 1, waiting: 0 });
      expectConsistent(p);
    });

    it('row 41: destroy() of the lease inside onReset, request() inside onData and close() inside a callback leave consistent state', async () => {
      const server = new HoldingLines();
      const upstream = await rig.server({
        handler: (socket) => {
          socket.write('hello\n');
          server.handler(socket);
        },
      });
      const held = new Map<unknown, Lease>();
      const followUps: Promise<Buffer>[] = [];
      let bothAsked!: () => void;
      const asked = new Promise<void>((resolve) => (bothAsked = resolve));
      const p: ConnectionPool = rig.pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        framing: lines(),
        callbacks: {
          onData: (frame) => {
            if (String(frame) !== 'hello' || followUps.length === 2) return;
            followUps.push(p.request('follow-up\n'));
            if (followUps.length === 2) bothAsked();
          },
          onReset: (_error, context) => {
            held.get(context.connection)?.destroy();
            held.delete(context.connection);
          },
        },
      });
      await p.open();
      await asked;
      expect((await Promise.all(followUps)).map(String)).toEqual(['follow-up', 'follow-up']);
      const lease = await p.acquire();
      held.set(lease.connection, lease);
      lease.connection.reset();
      expect(lease.released).toBe(true);
      await until(p, 'connect', () => p.stats().connected === 2);
      expectConsistent(p);
      // close() from inside a callback: everything still ends clean.
      const closed = new Promise<void>((resolve) =>
        p.addHandlers({ onReset: () => void p.close({ timeoutMillis: 0 }).then(resolve) }),
      );
      p.connections[1].reset();
      await closed;
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0 });
    });
  });
});
