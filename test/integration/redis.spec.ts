import { describe, expect, it } from '@jest/globals';
import { ConnectionPool, type ConnmanSocket } from '../../lib/index.js';
import { until, untilAny } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { useScope } from '../helpers/resources.js';

const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };

/** Sends one RESP command and resolves with the first complete simple reply line. */
function command(socket: ConnmanSocket, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return reject(new Error('connection closed before the command'));
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end < 0) return;
      done();
      resolve(buffered.slice(0, end));
    };
    const onClose = (): void => {
      done();
      reject(new Error('connection closed before the reply'));
    };
    const done = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

describe('against a real Redis', () => {
  const scope = useScope();

  it('leases connections for request/response, and 200 concurrent callers share 4 connections', async () => {
    const pool = new ConnectionPool({ name: 'redis', ...REDIS, min: 2, max: 4 });
    scope.defer(() => pool.close());
    await pool.open();
    expect(await pool.use((socket) => command(socket, 'PING'))).toBe('+PONG');
    const key = `connman:test:${process.pid}`;
    scope.defer(() => pool.use((socket) => command(socket, 'DEL', key)));
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => pool.use((socket) => command(socket, 'INCR', key))),
    );
    expect(new Set(replies).size).toBe(200);
    expect(await pool.use((socket) => command(socket, 'GET', key))).toBe('$3');
    expect(pool.stats()).toMatchObject({ leased: 0, waiting: 0 });
    expect(pool.size).toBeLessThanOrEqual(4);
  });

  it('survives the path to Redis going down and coming back while callers wait', async () => {
    const proxy = await FaultProxy.start(REDIS);
    scope.defer(() => proxy.close());
    const pool = new ConnectionPool({
      name: 'redis-proxied',
      ...proxy.endpoint,
      min: 2,
      max: 2,
      acquireTimeoutMillis: 5000,
      backoff: { initialDelayMillis: 20, maxDelayMillis: 100 },
    });
    scope.defer(() => pool.close());
    await pool.open();
    await proxy.down();
    await until(pool, 'reset', () => pool.stats().connected === 0);
    const waiting = Array.from({ length: 5 }, () => pool.use((socket) => command(socket, 'PING')));
    await until(pool, 'createError', () => pool.stats().endpoints[0].failures >= 2);
    await proxy.up();
    expect(await Promise.all(waiting)).toEqual(Array(5).fill('+PONG'));
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect(pool.stats()).toMatchObject({ size: 2, connected: 2, leased: 0, waiting: 0 });
  });

  it('recovers from a reset of every connection (RST) mid-traffic', async () => {
    const proxy = await FaultProxy.start(REDIS);
    scope.defer(() => proxy.close());
    const pool = new ConnectionPool({
      name: 'redis-rst',
      ...proxy.endpoint,
      min: 2,
      max: 2,
      backoff: { initialDelayMillis: 20, maxDelayMillis: 100 },
    });
    scope.defer(() => pool.close());
    await pool.open();
    // The pool can be up before the proxy has accepted both connections: reset only once it has.
    await proxy.waitForConnection(2);
    await proxy.resetPeers();
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        pool.use((socket) => command(socket, 'PING')).catch((error: Error) => `failed: ${error.message}`),
      ),
    );
    // Every call either got its reply or failed with an error; none hung. After the reset, the pool heals:
    // a connection reset idle reconnects in place ('reconnect'), one reset under a borrower is replaced ('connect').
    expect(replies.length).toBe(20);
    for (const reply of replies) expect(reply === '+PONG' || reply.startsWith('failed: ')).toBe(true);
    await untilAny(pool, ['connect', 'reconnect'], () => pool.stats().connected === 2);
    expect(await pool.use((socket) => command(socket, 'PING'))).toBe('+PONG');
  });
});
