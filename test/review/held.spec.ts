/**
 * Adversarial review: seams that were attacked and held. These pass today and
 * stay as regression tests.
 */
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  PersistentConnection,
  isConnmanError,
  lines,
  type ConnmanError,
  type ConnmanErrorCode,
  type Lease,
  type PoolOptions,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { echoLines, lineHandler } from '../helpers/line-server.js';
import { flushIo, useScope } from '../helpers/resources.js';
import { TestServer, silent, type SocketHandler } from '../helpers/server.js';
import { eventually, outcome, quick, rejection } from './review-helpers.js';

const KNOWN_CODES: readonly ConnmanErrorCode[] = [
  'ERR_ACQUIRE_TIMEOUT',
  'ERR_ACQUIRE_ABORTED',
  'ERR_POOL_CLOSED',
  'ERR_TOO_MANY_WAITERS',
  'ERR_NOT_LEASED',
  'ERR_NO_CONNECTION',
  'ERR_INVALID_OPTIONS',
  'ERR_UNKNOWN_POOL',
  'ERR_DUPLICATE_POOL',
  'ERR_CONNECT_TIMEOUT',
  'ERR_CONNECT_FAILED',
  'ERR_HANDSHAKE_FAILED',
  'ERR_CONNECTION_CLOSED',
  'ERR_READ_IDLE_TIMEOUT',
  'ERR_HEARTBEAT_TIMEOUT',
  'ERR_PROTOCOL',
  'ERR_VALIDATION_FAILED',
  'ERR_DISCONNECTED',
  'ERR_REQUEST_TIMEOUT',
  'ERR_REQUEST_ABORTED',
];

describe('review: seams that held', () => {
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

  describe('handshakes', () => {
    it('disconnect() during a handshake: read() rejects with ERR_DISCONNECTED, no callback runs, close is emitted', async () => {
      const upstream = await server(silent);
      const calls: string[] = [];
      let readError: unknown;
      const conn = new PersistentConnection(
        upstream.endpoint,
        {
          onConnect: () => void calls.push('onConnect'),
          onReset: () => void calls.push('onReset'),
        },
        {
          ...quick,
          handshake: async (_socket, context) => {
            calls.push('handshake');
            try {
              await context.read();
            } catch (error) {
              readError = error;
              throw error;
            }
          },
        },
      );
      const connectErrors: unknown[] = [];
      conn.on('connectError', (error) => connectErrors.push(error));
      conn.connect();
      await eventually(() => calls.includes('handshake'));
      const closed = next(conn, 'close');
      await conn.disconnect();
      await closed;
      await flushIo();
      expect((readError as ConnmanError).code).toBe('ERR_DISCONNECTED');
      expect(calls).toEqual(['handshake']);
      expect(connectErrors).toEqual([]);
      expect(conn.state).toBe('closed');
    });

    it('a handshake that closes its pool: open() rejects with ERR_POOL_CLOSED and nothing is left', async () => {
      const upstream = await server();
      const p: ConnectionPool = new ConnectionPool<Buffer>({
        name: 'review-handshake-closes',
        ...upstream.endpoint,
        ...quick,
        min: 1,
        handshake: () => void p.close(),
      });
      expect((await rejection(p.open())).code).toBe('ERR_POOL_CLOSED');
      await p.close();
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0 });
    });

    it('close() while a handshake hangs resolves at once, with no socket or timer left', async () => {
      const upstream = await server(silent);
      const p = new ConnectionPool<Buffer>({
        name: 'review-close-in-handshake',
        ...upstream.endpoint,
        ...quick,
        min: 2,
        connectTimeoutMillis: 60_000,
        handshake: (_socket, context) => context.read(),
      });
      const opened = rejection(p.open());
      await eventually(() => p.connections.filter((c) => c.state === 'handshaking').length === 2);
      const started = performance.now();
      await p.close({ timeoutMillis: 10_000 });
      expect(performance.now() - started).toBeLessThan(1000);
      expect((await opened).code).toBe('ERR_POOL_CLOSED');
    });

    it('a pool request waiting through failing handshakes rejects at its deadline with ERR_REQUEST_TIMEOUT (cause ERR_HANDSHAKE_FAILED)', async () => {
      const upstream = await server();
      const p = pool({
        name: 'review-request-handshake-fails',
        ...upstream.endpoint,
        min: 1,
        framing: lines(),
        handshake: () => {
          throw new Error('AUTH refused');
        },
      });
      const started = performance.now();
      const error = await rejection(p.request('x\n', { timeoutMillis: 200 }));
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
      expect((error.cause as ConnmanError).code).toBe('ERR_HANDSHAKE_FAILED');
    });

    it('an acquire aborted while the only connection handshakes rejects at once; the connection is idle once ready', async () => {
      let release: (() => void) | undefined;
      const upstream = await server();
      const p = pool({
        name: 'review-abort-in-handshake',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        handshake: () => new Promise<void>((resolve) => (release = resolve)),
      });
      const controller = new AbortController();
      const acquiring = rejection(p.acquire({ signal: controller.signal }));
      await eventually(() => release !== undefined);
      controller.abort();
      expect((await acquiring).code).toBe('ERR_ACQUIRE_ABORTED');
      release!();
      await until(p, 'connect', () => p.stats().connected === 1);
      expect(p.stats()).toMatchObject({ idle: 1, waiting: 0, leased: 0 });
    });
  });

  describe('re-entering the pool from callbacks', () => {
    it('close() inside onData: no onData after it, the pool closes clean', async () => {
      const upstream = await server((socket) => socket.write('a\nb\nc\n'));
      const frames: string[] = [];
      let closing: Promise<void> | undefined;
      const p: ConnectionPool = new ConnectionPool<Buffer>({
        name: 'review-close-in-ondata',
        ...upstream.endpoint,
        ...quick,
        min: 1,
        framing: lines(),
        callbacks: {
          onData: (frame: Buffer) => {
            frames.push(frame.toString());
            closing ??= p.close();
          },
        },
      });
      await p.open();
      await eventually(() => closing !== undefined);
      await closing;
      await flushIo();
      expect(frames).toEqual(['a']);
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0 });
    });

    it('a request made in onConnect (no handshake, nothing left over) is answered by its own reply', async () => {
      const upstream = await server(lineHandler((line, socket) => socket.write(`answer:${line}\n`)));
      let reply: Promise<string> | undefined;
      const conn: PersistentConnection = new PersistentConnection(
        upstream.endpoint,
        { onConnect: () => void (reply = outcome(conn.request('q\n'))) },
        { ...quick, framing: lines() },
      );
      scope.defer(() => conn.disconnect());
      await conn.waitUntilConnected();
      expect(await reply).toBe('ok:answer:q');
    });

    it('a request made in onReset of a pooled connection is served once the pool has a ready connection again', async () => {
      const upstream = await server();
      let reply: Promise<string> | undefined;
      const p: ConnectionPool = pool({
        name: 'review-request-in-onreset',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        callbacks: { onReset: () => void (reply ??= outcome(p.request('again\n'))) },
      });
      await p.open();
      upstream.resetAll();
      await eventually(() => reply !== undefined);
      expect(await reply).toBe('ok:again');
    });
  });

  describe('validation, leases and requests', () => {
    it('an asynchronous validate() that asks the connection itself (request()) grants the lease; its reply reaches no handler', async () => {
      const upstream = await server(
        lineHandler((line, socket) => socket.write(line === 'PING' ? '+PONG\n' : `${line}\n`)),
      );
      const pushes: string[] = [];
      const p = pool({
        name: 'review-validate-request',
        ...upstream.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        callbacks: { onData: (frame: Buffer) => void pushes.push(frame.toString()) },
        validate: async (_socket, connection) =>
          (await (connection as PersistentConnection).request('PING\n')).toString() === '+PONG',
      });
      await p.open();
      const lease = await p.acquire();
      expect(await outcome(lease.request('mine\n'))).toBe('ok:mine');
      lease.release();
      expect(pushes).toEqual([]);
    });

    it('close() while a waiter is validated through request(): the waiter gets ERR_POOL_CLOSED at once and close resolves promptly', async () => {
      const upstream = await server(lineHandler(() => undefined)); // never answers the validation
      const p = new ConnectionPool<Buffer>({
        name: 'review-close-validate-request',
        ...upstream.endpoint,
        ...quick,
        min: 1,
        max: 1,
        framing: lines(),
        validateTimeoutMillis: 60_000,
        validate: async (_socket, connection) =>
          (await (connection as PersistentConnection).request('PING\n')).length > 0,
      });
      await p.open();
      const waiting = rejection(p.acquire({ timeoutMillis: 60_000 }));
      await eventually(() => p.stats().pendingRequests === 1);
      const started = performance.now();
      await p.close({ timeoutMillis: 0 });
      expect(performance.now() - started).toBeLessThan(1000);
      expect((await waiting).code).toBe('ERR_POOL_CLOSED');
    });

    it('destroying a lease with its request in flight rejects the request with ERR_CONNECTION_CLOSED and the pool heals', async () => {
      const upstream = await server(lineHandler(() => undefined));
      const p = pool({ name: 'review-destroy-inflight', ...upstream.endpoint, min: 1, max: 1, framing: lines() });
      await p.open();
      const lease = await p.acquire();
      const reply = rejection(lease.request('x\n'));
      await flushIo();
      lease.destroy();
      const error = await reply;
      expect(error.code).toBe('ERR_CONNECTION_CLOSED');
      await until(p, 'connect', () => p.stats().connected === 1);
      expect(p.stats()).toMatchObject({ size: 1, idle: 1, pendingRequests: 0 });
    });

    it('no pool event after close: a lease kept past the grace period and released later emits nothing', async () => {
      const upstream = await server();
      const p = new ConnectionPool<Buffer>({
        name: 'review-after-close',
        ...upstream.endpoint,
        ...quick,
        min: 2,
        max: 2,
      });
      await p.open();
      const kept: Lease = await p.acquire();
      const other: Lease = await p.acquire();
      const events: string[] = [];
      for (const event of [
        'acquire',
        'release',
        'destroy',
        'reset',
        'connect',
        'reconnect',
        'createError',
        'error',
      ] as const) {
        p.on(event, () => events.push(event));
      }
      await p.close({ timeoutMillis: 0 });
      const after = events.length;
      kept.release();
      other.destroy(new Error('late'));
      await flushIo();
      expect(events.slice(after)).toEqual([]);
      expect(p.stats()).toMatchObject({ state: 'closed', size: 0 });
    });
  });

  describe('typed errors', () => {
    it('under resets, stalls, FINs, timeouts, aborts and close, every rejection is a ConnmanError with a known code', async () => {
      // Per line: 'ok' echoes, 'rst' resets the socket, 'fin' ends it, 'hang' never answers.
      const upstream = await server(
        lineHandler((line, socket: Socket) => {
          if (line.startsWith('rst')) socket.resetAndDestroy();
          else if (line.startsWith('fin')) socket.end();
          else if (!line.startsWith('hang')) socket.write(`${line}\n`);
        }),
      );
      const p = new ConnectionPool<Buffer>({
        name: 'review-typed',
        ...upstream.endpoint,
        ...quick,
        min: 2,
        max: 3,
        framing: lines(),
        requestTimeoutMillis: 150,
        acquireTimeoutMillis: 150,
        maxWaitingClients: 8,
        validate: (socket) => !socket.destroyed,
      });
      await p.open();
      const kinds = ['ok', 'ok', 'hang', 'rst', 'ok', 'fin', 'ok', 'hang'];
      const ops: Promise<unknown>[] = [];
      // Each operation's outcome is taken at once (a rejection is never left unhandled across the awaits below).
      const track = (promise: Promise<unknown>): void => {
        const settled = promise.then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason: unknown) => ({ status: 'rejected' as const, reason }),
        );
        ops.push(settled.then((s) => (s.status === 'rejected' ? Promise.reject(s.reason) : s.value)));
        void ops[ops.length - 1].catch(() => undefined);
      };
      for (let i = 0; i < 120; i++) {
        const kind = kinds[i % kinds.length];
        if (i % 5 === 0) {
          track(
            p.acquire().then(async (lease) => {
              try {
                await lease.request(`${kind}-lease-${i}\n`, { timeoutMillis: 100 });
              } finally {
                if (i % 10 === 0) lease.destroy();
                else if (!lease.released) lease.release();
              }
            }),
          );
        } else if (i % 7 === 0) {
          const controller = new AbortController();
          track(p.request(`${kind}-${i}\n`, { signal: controller.signal }));
          setImmediate(() => controller.abort());
        } else {
          track(p.request(`${kind}-${i}\n`));
        }
        if (i % 20 === 19) await flushIo(1);
      }
      const closing = p.close({ timeoutMillis: 100 });
      track(p.request('late\n'));
      track(p.acquire());
      const settled = await Promise.allSettled(ops);
      await closing;
      const untyped = settled
        .filter((s): s is PromiseRejectedResult => s.status === 'rejected')
        .map((s) => s.reason as unknown)
        .filter((reason) => !isConnmanError(reason) || !KNOWN_CODES.includes(reason.code))
        .map((reason) => String(reason));
      expect(untyped).toEqual([]);
      expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
    });
  });
});
