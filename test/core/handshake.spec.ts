import { describe, expect, it } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  ConnmanError,
  PersistentConnection,
  lines,
  type ConnectionOptions,
  type PoolOptions,
} from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { lineHandler } from '../helpers/line-server.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer, type SocketHandler } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as ConnmanError,
  );
}

/**
 * A server with a greeting and AUTH: it sends `HELLO`, answers `AUTH good`
 * with `+OK` and anything else with `-ERR`, then echoes lines once
 * authenticated. `gate` holds the AUTH answer until released.
 */
function authServer(options: { gate?: Promise<void>; extra?: string; onAuth?: () => void } = {}) {
  return lineHandler((line, socket) => {
    const authed = (socket as Socket & { authed?: boolean }).authed === true;
    if (!authed && line.startsWith('AUTH ')) {
      options.onAuth?.();
      const answer = (): void => {
        if (line === 'AUTH good') {
          (socket as Socket & { authed?: boolean }).authed = true;
          socket.write(`+OK\n${options.extra ?? ''}`);
        } else {
          socket.write('-ERR bad password\n');
        }
      };
      if (options.gate) void options.gate.then(answer);
      else answer();
      return;
    }
    socket.write(authed ? `${line}\n` : '-NOAUTH\n');
  });
}

function greeting(handler: ReturnType<typeof authServer>) {
  return (socket: Socket, count: number): void => {
    handler(socket, count);
    socket.write('HELLO\n');
  };
}

/** A handshake that reads the greeting, then AUTHs with `password`. */
function authHandshake(password: string): NonNullable<ConnectionOptions['handshake']> {
  return async (_socket, context) => {
    const hello = await context.read();
    if (hello.toString() !== 'HELLO') throw new Error(`unexpected greeting ${hello.toString()}`);
    const reply = (await context.request(`AUTH ${password}\n`)).toString();
    if (reply !== '+OK') throw new Error(`AUTH refused: ${reply}`);
  };
}

describe('handshake', () => {
  const scope = useScope();

  async function server(handler: SocketHandler): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'>): ConnectionPool {
    const p = new ConnectionPool({ name: 'hs', ...quick, ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  it('counts a connection as connected only once its handshake succeeded: not lent, picked, counted or opened before', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let authSeen!: () => void;
    const authed = new Promise<void>((resolve) => (authSeen = resolve));
    const upstream = await server(greeting(authServer({ gate, onAuth: () => authSeen() })));
    const events: string[] = [];
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      max: 1,
      framing: lines(),
      handshake: authHandshake('good'),
      callbacks: { onConnect: () => void events.push('onConnect'), onData: (f) => void events.push(`data:${f}`) },
    });
    let opened = false;
    const opening = p.open({ timeoutMillis: 5000 }).then(() => (opened = true));
    const acquiring = p.acquire();
    // The socket is up and the greeting read, the AUTH sent: the handshake waits for the gate.
    await authed;
    expect(p.connections[0].state).toBe('handshaking');
    expect(p.connections[0].connected).toBe(false);
    expect(p.connections[0].socket).toBeUndefined();
    expect(p.stats()).toMatchObject({ connected: 0, idle: 0, pending: 1, waiting: 1 });
    expect(() => p.pick()).toThrow(expect.objectContaining({ code: 'ERR_NO_CONNECTION' }));
    expect(p.tryAcquire()).toBeUndefined();
    expect(opened).toBe(false);
    expect(events).toEqual([]);
    release();
    const lease = await acquiring;
    await opening;
    expect(events).toEqual(['onConnect']);
    // HELLO and +OK went to the handshake, never to onData.
    expect(await lease.request('ping\n').then(String)).toBe('ping');
    lease.release();
    expect(p.stats()).toMatchObject({ connected: 1, idle: 1, pending: 0 });
  });

  it('fails the attempt with ERR_HANDSHAKE_FAILED (cause: the error), destroys the socket, runs no callback and backs off', async () => {
    const upstream = await server(greeting(authServer()));
    const callbacks: string[] = [];
    const failures: ConnmanError[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      {
        onConnect: () => void callbacks.push('connect'),
        onReset: () => void callbacks.push('reset'),
        onData: () => void callbacks.push('data'),
      },
      { ...quick, framing: lines(), handshake: authHandshake('bad') },
    );
    scope.defer(() => conn.disconnect());
    const failedAt: number[] = [];
    conn.on('connectError', (error) => {
      failures.push(error as ConnmanError);
      failedAt.push(performance.now());
    });
    conn.connect();
    const first = await upstream.nextConnection();
    await until(conn, 'connectError', () => failures.length >= 1);
    expect(failures[0].code).toBe('ERR_HANDSHAKE_FAILED');
    expect((failures[0].cause as Error).message).toBe('AUTH refused: -ERR bad password');
    expect(failures[0].message).toContain(`127.0.0.1:${upstream.port}`);
    if (!first.closed) await next(first, 'close');
    await upstream.nextConnection();
    // The next attempt came after a backoff delay (at least its 20 ms floor), not at once.
    expect(performance.now() - failedAt[0]).toBeGreaterThanOrEqual(19);
    await until(conn, 'connectError', () => failures.length >= 2);
    expect(conn.connected).toBe(false);
    expect(callbacks).toEqual([]);
  });

  it('a handshake that throws synchronously fails the attempt the same way', async () => {
    const upstream = await server(greeting(authServer()));
    const conn = new PersistentConnection(upstream.endpoint, undefined, {
      ...quick,
      handshake: () => {
        throw new Error('boom');
      },
    });
    scope.defer(() => conn.disconnect());
    const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
    expect(error.code).toBe('ERR_HANDSHAKE_FAILED');
    expect((error.cause as Error).message).toBe('boom');
  });

  it('a handshake that hangs ends at connectTimeoutMillis with ERR_CONNECT_TIMEOUT; its read() rejects; never lent', async () => {
    const upstream = await server(() => undefined); // accepts, never writes
    let readError: Promise<ConnmanError> | undefined;
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      max: 1,
      connectTimeoutMillis: 100,
      framing: lines(),
      handshake: async (_socket, context) => {
        readError = rejection(context.read());
        throw await readError;
      },
    });
    const started = Date.now();
    const failed = next<[ConnmanError]>(p, 'createError');
    await p.open({ wait: false });
    const [error] = await failed;
    const took = Date.now() - started;
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(error.message).toMatch(/handshake included/);
    expect(took).toBeGreaterThanOrEqual(95);
    expect(took).toBeLessThan(1000);
    expect((await readError)?.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(p.stats().connected).toBe(0);
    expect((await rejection(p.acquire({ timeoutMillis: 50 }))).code).toBe('ERR_ACQUIRE_TIMEOUT');
  });

  it('open() against a peer that accepts and never answers rejects with the attempt error as cause', async () => {
    const upstream = await server(() => undefined);
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      connectTimeoutMillis: 120,
      handshake: (_socket, context) => context.read(),
    });
    const error = await rejection(p.open());
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
    expect((error.cause as ConnmanError | undefined)?.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(error.message).toMatch(/within 120 ms/);
  });

  it('runs again on every reconnect, before the reconnect callbacks and the resume function', async () => {
    const upstream = await server(greeting(authServer()));
    const log: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      {
        onConnect: () => void log.push('connect'),
        onReset: () => {
          log.push('reset');
          return () => void log.push('resume');
        },
      },
      {
        ...quick,
        framing: lines(),
        handshake: async (socket, context) => {
          log.push('handshake');
          await authHandshake('good')(socket, context);
          log.push('handshake done');
        },
      },
    );
    scope.defer(() => conn.disconnect());
    await conn.waitUntilConnected(2000);
    upstream.resetAll();
    await next(conn, 'reconnect');
    expect(log).toEqual(['handshake', 'handshake done', 'connect', 'reset', 'handshake', 'handshake done', 'resume']);
  });

  it('frames that arrive with the last handshake reply and were not read go to onData afterwards, in order', async () => {
    const upstream = await server(greeting(authServer({ extra: 'PUSH 1\nPUSH 2\n' })));
    const data: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame) => void data.push(frame.toString()) },
      { ...quick, framing: lines(), handshake: authHandshake('good') },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    await until(conn, 'frame', () => data.length >= 2);
    expect(data).toEqual(['PUSH 1', 'PUSH 2']);
  });

  it('without framing, read() resolves with chunks and request() writes then reads', async () => {
    const upstream = await server((socket) => {
      socket.write('greeting');
      socket.on('data', () => socket.write('ack'));
    });
    const seen: string[] = [];
    const conn = new PersistentConnection(upstream.endpoint, undefined, {
      ...quick,
      handshake: async (_socket, context) => {
        seen.push((await context.read()).toString());
        seen.push((await context.request('hi')).toString());
      },
    });
    scope.defer(() => conn.disconnect());
    await conn.waitUntilConnected(2000);
    expect(seen).toEqual(['greeting', 'ack']);
  });

  it('reports a handshake failure in the pool stats and as createError, and heals once the peer accepts', async () => {
    let password = 'bad';
    const upstream = await server(greeting(authServer()));
    const logger = new RecordingLogger();
    const p = pool({
      ...upstream.endpoint,
      min: 1,
      framing: lines(),
      logger,
      handshake: (socket, context) => authHandshake(password)(socket, context),
    });
    const failed = next<[ConnmanError]>(p, 'createError');
    await p.open({ wait: false });
    const [error] = await failed;
    expect(error.code).toBe('ERR_HANDSHAKE_FAILED');
    expect(p.stats().endpoints[0]).toMatchObject({ connected: 0, lastError: expect.stringMatching(/AUTH refused/) });
    password = 'good';
    await p.open({ timeoutMillis: 2000 });
    expect(p.stats().endpoints[0]).toMatchObject({ connected: 1, consecutiveFailures: 0, lastError: undefined });
  });
});
