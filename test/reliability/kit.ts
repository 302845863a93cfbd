// Shared helpers of the reliability matrix (test/reliability/*.spec.ts). The
// library is reached through its public entry points only, as users reach it.
import { expect } from '@jest/globals';
import { createHook } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  ConnectionPool,
  ConnmanError,
  PersistentConnection,
  type ConnectionCallbacks,
  type ConnectionOptions,
  type Endpoint,
  type PoolOptions,
} from 'nestjs-connman';
import { FaultProxy, TestServer, type FaultProxyTarget, type TestServerOptions } from 'nestjs-connman/testing';
import { flushIo, type TestScope } from '../helpers/resources.js';

/** A short backoff, so that reconnects happen within a test. */
export const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

/** The error a promise rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error as ConnmanError,
  );
}

/** Milliseconds since the call, on the monotonic clock. */
export function stopwatch(): () => number {
  const started = performance.now();
  return () => performance.now() - started;
}

/**
 * True once `promise` has settled, checked after one turn of the event loop:
 * what "at once" means in these tests (no timer may have run meanwhile).
 */
export async function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

/**
 * Sockets and servers that keep the process alive, counted by type. (Timers are
 * left out here: Jest's own come and go; see {@link LibraryTimers}.)
 */
export function liveHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    if (!/TCP|TLS/.test(type)) continue;
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/** Expects the live handles to be back to `baseline` once pending close callbacks have run. */
export async function expectHandlesBackTo(baseline: Record<string, number>): Promise<void> {
  await flushIo();
  expect(liveHandles()).toEqual(baseline);
}

/** Listener counts of every event of `emitter`, for comparison with a baseline. */
export function listenerCounts(emitter: EventEmitter): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of emitter.eventNames()) counts[String(name)] = emitter.listenerCount(name);
  return counts;
}

/** The counts of a pool agree with each other and with its limits ("counts consistent"). */
export function expectConsistent(pool: ConnectionPool<any>): void {
  const s = pool.stats();
  expect(s.size).toBe(pool.connections.length);
  expect(s.connected + s.pending).toBe(s.size);
  expect(s.size).toBeLessThanOrEqual(s.max);
  expect(s.idle).toBeLessThanOrEqual(s.connected);
  expect(s.idle + s.leased).toBeLessThanOrEqual(s.size);
  expect(s.endpoints.reduce((n, e) => n + e.connections, 0)).toBe(s.size);
  for (const n of [s.waiting, s.pendingRequests, s.waitingRequests, s.leased, s.idle]) {
    expect(n).toBeGreaterThanOrEqual(0);
  }
}

/** `global.gc` when the process has it, else one obtained by turning V8's flag on at run time. */
export function garbageCollector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap in use after a full collection, in bytes. */
export function heapAfterGc(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

/** A deterministic random source in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A `lookup` for `socketOptions` that answers 127.0.0.1 after `delayMillis` (or fails with `error`). */
export function lookupAnswering(delayMillis: number, error?: NodeJS.ErrnoException): never {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const answer = (): void => {
      if (error !== undefined) callback(error);
      else if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
      else callback(null, '127.0.0.1', 4);
    };
    if (delayMillis === 0) process.nextTick(answer);
    else setTimeout(answer, delayMillis);
  }) as never;
}

/**
 * A `lookup` for `socketOptions` held until `answer()`: then every lookup
 * asked so far (and every later one) gets 127.0.0.1. No timing involved.
 */
export class GatedLookup {
  private held: (() => void)[] = [];
  private open = false;
  asked = 0;

  readonly lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    this.asked++;
    const reply = (): void =>
      options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4);
    if (this.open) process.nextTick(reply);
    else this.held.push(reply);
  }) as never;

  answer(): void {
    this.open = true;
    for (const reply of this.held.splice(0)) reply();
  }
}

/** A `lookup` that never calls back (a resolver that hangs). */
export const hangingLookup = ((): void => undefined) as never;

/**
 * The timers the library has created (from lib/core) and that are still
 * pending: neither fired nor cleared. What "timer cleared" is checked against.
 */
export class LibraryTimers {
  private readonly alive = new Set<number>();
  private readonly hook = createHook({
    init: (id, type) => {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (/[\\/]lib[\\/]core[\\/]/.test(stack)) this.alive.add(id);
    },
    destroy: (id) => void this.alive.delete(id),
  });

  start(): this {
    this.hook.enable();
    return this;
  }

  stop(): void {
    this.hook.disable();
  }

  /** Library timers pending, once queued destroy hooks have run (Node reports cleared timers a turn later). */
  async pending(): Promise<number> {
    await flushIo();
    return this.alive.size;
  }
}

/** Builds servers, proxies, pools and connections that are torn down after the test. */
export class Rig {
  constructor(private readonly scope: TestScope) {}

  async server(options: TestServerOptions = {}): Promise<TestServer> {
    const server = await TestServer.start(options);
    this.scope.defer(() => server.stop());
    return server;
  }

  async proxy(target: FaultProxyTarget): Promise<FaultProxy> {
    const proxy = await FaultProxy.start(target);
    this.scope.defer(() => proxy.close());
    return proxy;
  }

  pool<F = Buffer>(options: Omit<PoolOptions<F>, 'name'> & { name?: string }): ConnectionPool<F> {
    const pool = new ConnectionPool<F>({ name: 'matrix', ...quick, ...options } as PoolOptions<F>);
    this.scope.defer(() => pool.close({ timeoutMillis: 0 }));
    return pool;
  }

  connection<F = Buffer>(
    endpoint: Endpoint | Endpoint[],
    callbacks?: ConnectionCallbacks<F>,
    options: ConnectionOptions<F> = {},
  ): PersistentConnection<F> {
    const connection = new PersistentConnection<F>(endpoint, callbacks, { ...quick, ...options });
    this.scope.defer(() => connection.disconnect());
    return connection;
  }

  /** Starts counting the library's pending timers (until the end of the test). */
  timers(): LibraryTimers {
    const timers = new LibraryTimers().start();
    this.scope.defer(() => timers.stop());
    return timers;
  }

  /** Runs `fn` after the test, before the leak check. */
  defer(fn: () => unknown): void {
    this.scope.defer(fn);
  }
}

/** Splits what a server socket reads into lines, whatever the slicing, and calls `onLine` for each. */
export function onLines(socket: import('node:net').Socket, onLine: (line: string) => void): void {
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    let index: number;
    while ((index = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, index);
      pending = pending.slice(index + 1);
      if (!socket.destroyed) onLine(line);
    }
  });
}

/**
 * A line server whose replies can be held back: lines for which `hold(line)`
 * is true wait in `held` until `releaseHeld()`; the others are echoed at once.
 * Every line received is logged, in order, with the socket it came on.
 */
export class HoldingLines {
  readonly received: { line: string; socket: import('node:net').Socket }[] = [];
  readonly held: { line: string; socket: import('node:net').Socket }[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(public hold: (line: string) => boolean = () => false) {}

  readonly handler = (socket: import('node:net').Socket): void =>
    onLines(socket, (line) => {
      this.received.push({ line, socket });
      this.waiters = this.waiters.filter((w) => {
        if (this.received.length < w.count) return true;
        w.resolve();
        return false;
      });
      if (this.hold(line)) this.held.push({ line, socket });
      else socket.write(`${line}\n`);
    });

  /** Resolves once `count` lines in all were received. */
  until(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Writes the held replies (to sockets still open), in order. */
  releaseHeld(): void {
    for (const { line, socket } of this.held.splice(0)) if (!socket.destroyed) socket.write(`${line}\n`);
  }
}

export { ConnmanError };

/** The next of several events of `emitter` (its name and arguments); the other listeners are removed. */
export function nextOf(emitter: EventEmitter<any> | EventEmitter, events: string[]): Promise<[string, ...unknown[]]> {
  const target = emitter as EventEmitter;
  return new Promise((resolve) => {
    const listeners = events.map((event) => {
      const listener = (...args: unknown[]): void => {
        events.forEach((e, i) => target.off(e, listeners[i]));
        resolve([event, ...args]);
      };
      target.on(event, listener);
      return listener;
    });
  });
}
