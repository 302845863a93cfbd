/**
 * Adversarial review: heartbeats crossed with user code that re-enters the
 * connection, leases and closing.
 *
 * Tests in this file that fail today show bugs in lib/core (see the report
 * of the review branch); they are kept failing on purpose until lib/core is
 * fixed.
 */
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { ConnectionPool, PersistentConnection, lines, type ConnmanError } from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { lineHandler } from '../helpers/line-server.js';
import { flushIo, useScope } from '../helpers/resources.js';
import { TestServer, type SocketHandler } from '../helpers/server.js';
import { eventually, liveTimers, quick, rejection } from './review-helpers.js';

describe('review: heartbeat seams', () => {
  const scope = useScope();

  async function server(handler: SocketHandler): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }

  it('a heartbeat payload function that resets the connection does not make the next connection time out before it sent a heartbeat', async () => {
    // A peer that reads and never answers: each connection must get its own interval, then its own timeout.
    const pings = new Map<number, number>();
    const upstream = await server((socket, count) => {
      lineHandler((line) => {
        if (line === 'ping') pings.set(count, (pings.get(count) ?? 0) + 1);
      })(socket, count);
    });
    let first = true;
    const conn: PersistentConnection = new PersistentConnection(upstream.endpoint, undefined, {
      backoff: { initialDelayMillis: 1, maxDelayMillis: 5 },
      heartbeat: {
        intervalMillis: 300,
        timeoutMillis: 100,
        payload: () => {
          if (first) {
            first = false;
            conn.reset(); // re-enters: the connection is lost while its heartbeat is being sent
          }
          return 'ping\n';
        },
      },
    });
    scope.defer(() => conn.disconnect());
    conn.connect();
    const [firstReset] = await next<[ConnmanError]>(conn, 'reset');
    expect(firstReset.code).toBe('ERR_CONNECTION_CLOSED');
    const [secondReset] = await next<[ConnmanError]>(conn, 'reset');
    expect(secondReset.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    // The second connection (the server's #2) timed out a heartbeat: it must have sent one.
    expect(pings.get(2) ?? 0).toBeGreaterThanOrEqual(1);
  });

  it('a heartbeat payload function that disconnects the connection leaves no timer behind', async () => {
    const upstream = await server(lineHandler((line, socket) => socket.write(`${line}\n`)));
    const before = liveTimers();
    const conn: PersistentConnection = new PersistentConnection(upstream.endpoint, undefined, {
      ...quick,
      heartbeat: {
        intervalMillis: 30,
        payload: () => {
          void conn.disconnect();
          return 'ping\n';
        },
      },
    });
    conn.connect();
    await next(conn, 'close');
    await flushIo();
    // SPEC: disconnect() leaves no timer, the process can exit.
    expect(liveTimers()).toBe(before);
  });

  it('a pool closed while a heartbeat is in flight closes as soon as the heartbeat is answered, not at the end of its grace period', async () => {
    let held: Socket | undefined;
    const upstream = await server(
      lineHandler((line, socket) => {
        if (line === 'ping') held = socket;
      }),
    );
    const p = new ConnectionPool({
      name: 'review-close-heartbeat',
      ...upstream.endpoint,
      ...quick,
      min: 1,
      max: 1,
      framing: lines(),
      heartbeat: { intervalMillis: 30, timeoutMillis: 5000, payload: 'ping\n' },
    });
    await p.open();
    await eventually(() => held !== undefined);
    expect(p.stats()).toMatchObject({ idle: 0, pendingRequests: 1 });
    const closing = p.close({ timeoutMillis: 5000 });
    let closed = false;
    void closing.then(() => (closed = true));
    await flushIo();
    expect(closed).toBe(false);
    const answered = performance.now();
    held!.write('pong\n');
    await closing;
    // Nothing is left to wait for once the pong is read; the grace period is 5000 ms.
    expect(performance.now() - answered).toBeLessThan(1000);
    expect(p.stats()).toMatchObject({ size: 0, pendingRequests: 0 });
  });

  it('holds: an acquire that comes while the heartbeat is in flight is served once it is answered, on the same connection', async () => {
    let held: Socket | undefined;
    const upstream = await server(
      lineHandler((line, socket) => {
        if (line === 'ping') held = socket;
      }),
    );
    const p = new ConnectionPool({
      name: 'review-acquire-heartbeat',
      ...upstream.endpoint,
      ...quick,
      min: 1,
      max: 1,
      framing: lines(),
      heartbeat: { intervalMillis: 30, timeoutMillis: 5000, payload: 'ping\n' },
    });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    await p.open();
    await eventually(() => held !== undefined);
    let granted = false;
    const acquiring = p.acquire().then((lease) => {
      granted = true;
      return lease;
    });
    await flushIo();
    expect(granted).toBe(false);
    held!.write('pong\n');
    const lease = await acquiring;
    expect(lease.connection).toBe(p.connections[0]);
    expect(lease.connection.pendingRequests).toBe(0);
    lease.release();
  });

  it('holds: a heartbeat that times out while a request waits behind it fails the request with ERR_CONNECTION_CLOSED (cause ERR_HEARTBEAT_TIMEOUT)', async () => {
    const upstream = await server(lineHandler(() => undefined));
    const conn = new PersistentConnection(upstream.endpoint, undefined, {
      ...quick,
      framing: lines(),
      heartbeat: { intervalMillis: 30, timeoutMillis: 100, payload: 'ping\n' },
    });
    scope.defer(() => conn.disconnect());
    await conn.waitUntilConnected();
    await eventually(() => conn.pendingRequests === 1);
    const error = await rejection(conn.request('q\n', { timeoutMillis: 5000 }));
    expect(error.code).toBe('ERR_CONNECTION_CLOSED');
    expect((error.cause as ConnmanError).code).toBe('ERR_HEARTBEAT_TIMEOUT');
  });
});
