import { describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import {
  ConnmanError,
  PersistentConnection,
  type ConnectionCallbacks,
  type ConnectionOptions,
} from '../../lib/index.js';
import { Blackhole } from '../helpers/blackhole.js';
import { next } from '../helpers/events.js';
import { RecordingLogger, useScope } from '../helpers/resources.js';
import { TestServer, refusedPort, silent } from '../helpers/server.js';

const fast: ConnectionOptions = { backoff: { initialDelayMillis: 10, maxDelayMillis: 40 }, connectTimeoutMillis: 2000 };

describe('PersistentConnection', () => {
  const scope = useScope();
  async function server(...args: Parameters<typeof TestServer.start>): Promise<TestServer> {
    const s = await TestServer.start(...args);
    scope.defer(() => s.stop());
    return s;
  }
  function connection(...args: ConstructorParameters<typeof PersistentConnection<Buffer>>): PersistentConnection {
    const c = new PersistentConnection(...args);
    scope.defer(() => c.disconnect());
    return c;
  }

  it('connects, calls onConnect with the live socket and routes every chunk to onData', async () => {
    const upstream = await server();
    const chunks: Buffer[] = [];
    const conn = connection(upstream.endpoint, { onData: (b) => void chunks.push(b) }, fast);
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    expect(conn.socket).toBe(socket);
    expect(conn.connected).toBe(true);
    expect(socket.remotePort).toBe(upstream.port);
    socket.write('hello');
    await next(conn, 'data');
    expect(Buffer.concat(chunks).toString()).toBe('hello');
  });

  it('turns on noDelay and keepalive by default', async () => {
    const upstream = await server();
    const conn = connection(upstream.endpoint, {}, fast);
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket & { _handle?: unknown }];
    // Node exposes neither flag for reading; the options reach net.connect.
    expect(conn.options.noDelay).toBe(true);
    expect(conn.options.keepAlive).toBe(true);
    expect(socket.readyState).toBe('open');
  });

  it('reconnects after a server restart: reset, then connect and reconnect callbacks, in order', async () => {
    const upstream = await server();
    const log: string[] = [];
    const callbacks: ConnectionCallbacks = {
      onConnect: () => void log.push('connect'),
      onReset: (e) => void log.push(`reset:${(e as NodeJS.ErrnoException).code}`),
      onReconnect: () => void log.push('reconnect'),
    };
    const conn = connection(upstream.endpoint, callbacks, fast);
    await next(conn.connect(), 'connect');
    await upstream.restart();
    await next(conn, 'reconnect');
    expect(log).toEqual(['connect', 'reset:ERR_CONNECTION_CLOSED', 'connect', 'reconnect']);
    expect(conn.connected).toBe(true);
  });

  it('calls the function returned by onReset once when back, instead of the connect callbacks', async () => {
    const upstream = await server();
    const log: string[] = [];
    let resets = 0;
    const conn = connection(
      upstream.endpoint,
      {
        onConnect: () => void log.push('connect'),
        onReconnect: () => void log.push('reconnect'),
        onReset: () => {
          resets++;
          return resets === 1 ? () => void log.push('resume') : undefined;
        },
      },
      fast,
    );
    await next(conn.connect(), 'connect');
    upstream.resetAll();
    await next(conn, 'reconnect');
    expect(log).toEqual(['connect', 'resume']);
    upstream.resetAll();
    await next(conn, 'reconnect');
    expect(log).toEqual(['connect', 'resume', 'connect', 'reconnect']);
  });

  it('accepts a promise of a resume function from onReset', async () => {
    const upstream = await server();
    const resumed: Socket[] = [];
    const conn = connection(upstream.endpoint, { onReset: async () => (s) => void resumed.push(s as Socket) }, fast);
    await next(conn.connect(), 'connect');
    upstream.resetAll();
    const [socket] = await next(conn, 'reconnect');
    await Promise.resolve();
    await Promise.resolve();
    expect(resumed).toEqual([socket]);
  });

  it('treats a user socket.end() as a reset and reconnects', async () => {
    const upstream = await server();
    const conn = connection(upstream.endpoint, {}, fast);
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    socket.end();
    const [error] = await next(conn, 'reset');
    expect((error as ConnmanError).code).toBe('ERR_CONNECTION_CLOSED');
    await next(conn, 'reconnect');
    expect(conn.socket).not.toBe(socket);
  });

  it('destroys a half-closed socket when the peer sends FIN, leaving no CLOSE_WAIT, and reconnects', async () => {
    const upstream = await server({ allowHalfOpen: true });
    const conn = connection(upstream.endpoint, {}, { ...fast, socketOptions: { allowHalfOpen: true } });
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    const peer = await upstream.nextConnection();
    peer.end();
    await once(socket, 'close');
    expect(socket.destroyed).toBe(true);
    await next(conn, 'reconnect');
  });

  it('survives RST with no error listener of the user and heals', async () => {
    const upstream = await server();
    const conn = connection(upstream.endpoint, undefined, fast);
    await next(conn.connect(), 'connect');
    upstream.resetAll();
    const [error] = await next(conn, 'reset');
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    await next(conn, 'reconnect');
  });

  it('disconnect() stops for good: no reconnect, socket closed, nothing scheduled', async () => {
    const upstream = await server();
    const conn = connection(upstream.endpoint, {}, fast);
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    const accepted = upstream.accepted;
    await conn.disconnect();
    expect(socket.destroyed).toBe(true);
    expect(conn.state).toBe('closed');
    expect(conn.socket).toBeUndefined();
    // A further connect attempt would be accepted by the server; there is none.
    await upstream.restart();
    expect(upstream.accepted).toBe(accepted);
    expect(conn.connect().state).toBe('closed');
  });

  it('disconnect() during backoff clears the timer; no further attempt is made', async () => {
    const port = await refusedPort();
    const conn = connection({ host: '127.0.0.1', port }, {}, { backoff: { initialDelayMillis: 60_000 } });
    await next(conn.connect(), 'connectError');
    expect(conn.state).toBe('backoff');
    const attempts = conn.attempts;
    await conn.disconnect();
    expect(conn.attempts).toBe(attempts);
  });

  it('bounds attempts against a refused port by the backoff schedule', async () => {
    const port = await refusedPort();
    const delays: number[] = [];
    const backoff = { initialDelayMillis: 20, maxDelayMillis: 80, factor: 2, jitter: 0 };
    const conn = connection({ host: '127.0.0.1', port }, {}, { backoff });
    const started = Date.now();
    let last = started;
    conn.on('connectError', () => {
      const now = Date.now();
      delays.push(now - last);
      last = now;
    });
    conn.connect();
    while (conn.attempts < 6) await next(conn, 'connectError');
    // Without jitter the schedule is 40, 80, 80, 80, 80 ms between attempts.
    const gaps = delays.slice(1);
    for (const [i, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(Math.min(80, 20 * 2 ** (i + 1)) - 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40 + 80 * 4 - 5);
  });

  it('rejects with ERR_CONNECT_TIMEOUT on a blackholed connect and destroys the socket', async () => {
    const hole = await Blackhole.start();
    scope.defer(() => hole.close());
    const conn = connection(hole.endpoint, {}, { connectTimeoutMillis: 150, backoff: { initialDelayMillis: 60_000 } });
    const started = Date.now();
    const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(ConnmanError);
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1500);
    expect(conn.socket).toBeUndefined();
  });

  it('waitUntilConnected() rejects after its timeout with the last connect error as cause', async () => {
    const port = await refusedPort();
    const conn = connection(
      { host: '127.0.0.1', port },
      {},
      { backoff: { initialDelayMillis: 20, maxDelayMillis: 20 } },
    );
    const error = (await conn.waitUntilConnected(100).catch((e: unknown) => e)) as ConnmanError;
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('covers DNS with the connect deadline: a lookup that never answers times out', async () => {
    const conn = connection(
      { host: 'never.invalid', port: 9 },
      {},
      {
        connectTimeoutMillis: 100,
        backoff: { initialDelayMillis: 60_000 },
        socketOptions: { lookup: () => undefined },
      },
    );
    const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
  });

  it('carries ENOTFOUND from a failing lookup', async () => {
    const lookup = ((_host: string, _opts: unknown, cb: (e: Error) => void) => {
      const error = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
      process.nextTick(cb, error);
    }) as never;
    const conn = connection(
      { host: 'nowhere.invalid', port: 9 },
      {},
      { backoff: { initialDelayMillis: 60_000 }, socketOptions: { lookup } },
    );
    const [error] = (await next(conn.connect(), 'connectError')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ENOTFOUND');
  });

  it('declares a silent peer dead after readIdleTimeoutMillis and reconnects', async () => {
    const upstream = await server({ handler: silent });
    const conn = connection(upstream.endpoint, {}, { ...fast, readIdleTimeoutMillis: 100 });
    // The clock starts when the connection is up (its read-idle timer starts then), not when the test resumes.
    let started = 0;
    conn.once('connect', () => (started = Date.now()));
    await next(conn.connect(), 'connect');
    const [error] = (await next(conn, 'reset')) as [ConnmanError];
    expect(error.code).toBe('ERR_READ_IDLE_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    await next(conn, 'reconnect');
  });

  it('keeps a connection that reads within readIdleTimeoutMillis', async () => {
    const upstream = await server();
    const conn = connection(upstream.endpoint, {}, { ...fast, readIdleTimeoutMillis: 400 });
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    let resets = 0;
    conn.on('reset', () => resets++);
    const started = Date.now();
    for (let i = 0; i < 15; i++) {
      // Each echo arrives well within the limit (the delay between reads is what is under test);
      // together the rounds outlast the limit.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.write('x');
          void next(conn, 'data').then(() => resolve());
        }, 40);
        scope.defer(async () => clearTimeout(timer));
      });
    }
    expect(Date.now() - started).toBeGreaterThan(400);
    expect(resets).toBe(0);
  });

  it('reports a throwing callback through the error event and keeps reconnecting', async () => {
    const upstream = await server();
    const conn = connection(
      upstream.endpoint,
      {
        onConnect: () => {
          throw new Error('boom in onConnect');
        },
      },
      fast,
    );
    const errors: Error[] = [];
    conn.on('error', (e) => errors.push(e));
    await next(conn.connect(), 'connect');
    expect(errors.map((e) => e.message)).toEqual(['boom in onConnect']);
    upstream.resetAll();
    await next(conn, 'reconnect');
    expect(errors).toHaveLength(2);
  });

  it('logs a rejecting callback when nobody listens for errors', async () => {
    const upstream = await server();
    const logger = new RecordingLogger();
    const conn = connection(
      upstream.endpoint,
      { onConnect: async () => Promise.reject(new Error('async boom')) },
      { ...fast, logger },
    );
    await next(conn.connect(), 'connect');
    await new Promise((resolve) => setImmediate(resolve));
    expect(logger.errors).toEqual([expect.stringContaining('onConnect callback of the connection to 127.0.0.1:')]);
    expect(logger.errors[0]).toContain('async boom');
  });

  it('fails over to the next endpoint at once when one refuses', async () => {
    const port = await refusedPort();
    const upstream = await server();
    const conn = connection(
      [{ host: '127.0.0.1', port }, upstream.endpoint],
      {},
      { backoff: { initialDelayMillis: 60_000 } },
    );
    await next(conn.connect(), 'connect');
    expect(conn.endpoint.port).toBe(upstream.port);
  });

  it('connects over a Unix socket path', async () => {
    const path = `/tmp/connman-test-${process.pid}-${Date.now()}.sock`;
    const net = await import('node:net');
    const unixServer = net.createServer((s) => s.pipe(s));
    unixServer.listen(path);
    await once(unixServer, 'listening');
    scope.defer(() => new Promise((r) => unixServer.close(r)));
    const conn = connection({ path }, {}, fast);
    const [socket] = (await next(conn.connect(), 'connect')) as [Socket];
    socket.write('ping');
    const [data] = await next(conn, 'data');
    expect(String(data)).toBe('ping');
    await conn.disconnect();
  });

  it('rejects bad options with ERR_INVALID_OPTIONS naming the option', () => {
    expect(() => new PersistentConnection({ host: '127.0.0.1', port: 70_000 })).toThrow(/'endpoint.port'/);
    expect(() => new PersistentConnection({ host: '127.0.0.1', port: 1 }, {}, { connectTimeoutMillis: 0 })).toThrow(
      /'connectTimeoutMillis'.*from 1/,
    );
    expect(
      () => new PersistentConnection({ host: '127.0.0.1', port: 1 }, {}, { backoff: { initialDelayMillis: 0 } }),
    ).toThrow(/'backoff.initialDelayMillis'/);
    expect(
      () => new PersistentConnection({ host: '127.0.0.1', port: 1 }, {}, { conectTimeoutMillis: 5 } as never),
    ).toThrow(/Unknown option 'conectTimeoutMillis'/);
    expect(() => new PersistentConnection({ host: '127.0.0.1', port: 1 }, { onData: 'x' } as never)).toThrow(
      /'callbacks\.onData'/,
    );
  });
});
