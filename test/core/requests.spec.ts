import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  ConnmanError,
  PersistentConnection,
  lines,
  type ConnectionOptions,
  type PoolOptions,
} from '../../lib/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { next, until } from '../helpers/events.js';
import { LineLog, echoLines, lineHandler } from '../helpers/line-server.js';
import { useScope } from '../helpers/resources.js';
import { TestServer, type SocketHandler } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

async function rejection(promise: Promise<unknown>): Promise<ConnmanError> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error as ConnmanError,
  );
}

/** Settles every promise; returns what each gave, as `ok:<value>` or the error code. */
async function outcomes(promises: Promise<Buffer>[]): Promise<string[]> {
  const settled = await Promise.allSettled(promises);
  return settled.map((s) =>
    s.status === 'fulfilled' ? `ok:${s.value.toString()}` : ((s.reason as ConnmanError).code ?? String(s.reason)),
  );
}

describe('request()', () => {
  const scope = useScope();

  async function server(handler: SocketHandler = echoLines): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }
  function pool(options: Omit<PoolOptions, 'name'>): ConnectionPool {
    const p = new ConnectionPool({ name: 'rq', ...quick, framing: lines(), ...options });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }
  function connection(endpoint: { host: string; port: number }, options: ConnectionOptions = {}): PersistentConnection {
    const c = new PersistentConnection(endpoint, undefined, { ...quick, framing: lines(), ...options });
    scope.defer(() => c.disconnect());
    return c;
  }

  describe('matching', () => {
    it('matches every reply to its request in write order, pipelined from many callers over the pool', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 4, max: 4 });
      await p.open();
      const requests = Array.from({ length: 2000 }, (_, i) => p.request(`r${i}\n`));
      const replies = await Promise.all(requests);
      expect(replies.map(String)).toEqual(Array.from({ length: 2000 }, (_, i) => `r${i}`));
      expect(p.stats()).toMatchObject({ pendingRequests: 0, waitingRequests: 0 });
    });

    it('uses the ready, unleased connection with the fewest unanswered requests, round-robin among equals', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 3, max: 3 });
      await p.open();
      const lease = await p.acquire();
      // 6 requests over the two unleased connections: 3 each, none on the leased one.
      const requests = Array.from({ length: 6 }, (_, i) => p.request(`x${i}\n`));
      const counts = p.connections.map((c) => c.pendingRequests);
      expect(counts.filter((c) => c === 3)).toHaveLength(2);
      expect(lease.connection.pendingRequests).toBe(0);
      await Promise.all(requests);
      lease.release();
    });

    it('waits for a ready connection, first come first served, and writes once one is up', async () => {
      const upstream = await server();
      const proxy = await FaultProxy.start(upstream.endpoint);
      scope.defer(() => proxy.close());
      await proxy.down();
      const p = pool({ ...proxy.endpoint, min: 1, max: 1 });
      const pending = [p.request('a\n'), p.request('b\n'), p.request('c\n')];
      await next(p, 'createError');
      expect(p.stats()).toMatchObject({ waitingRequests: 3, connected: 0 });
      await proxy.up();
      expect((await Promise.all(pending)).map(String)).toEqual(['a', 'b', 'c']);
    });

    it('on a single connection: waits for readiness, then answers in order', async () => {
      const upstream = await server();
      const conn = connection(upstream.endpoint);
      const replies = await Promise.all([
        conn.request('one\n'),
        conn.request(Buffer.from('two\n')),
        conn.request('3\n'),
      ]);
      expect(replies.map(String)).toEqual(['one', 'two', '3']);
    });

    it('lease.request() answers on the leased connection; after release it is ERR_NOT_LEASED', async () => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      expect((await lease.request('mine\n')).toString()).toBe('mine');
      expect(lease.connection.pendingRequests).toBe(0);
      lease.release();
      expect((await rejection(lease.request('late\n'))).code).toBe('ERR_NOT_LEASED');
    });
  });

  describe('isReply', () => {
    it('routes pushes to onData and replies to requests, under load, every reply matched', async () => {
      // For every request line the server first pushes a line, then answers.
      const upstream = await server(
        lineHandler((line, socket) => socket.write(`PUSH before ${line}\nREPLY ${line}\n`)),
      );
      const pushes: string[] = [];
      const p = pool({
        ...upstream.endpoint,
        min: 2,
        max: 2,
        isReply: (frame) => frame.subarray(0, 6).toString() === 'REPLY ',
        callbacks: { onData: (frame) => void pushes.push(frame.toString()) },
      });
      await p.open();
      const n = 500;
      const replies = await Promise.all(Array.from({ length: n }, (_, i) => p.request(`q${i}\n`)));
      expect(replies.map(String)).toEqual(Array.from({ length: n }, (_, i) => `REPLY q${i}`));
      expect(pushes.sort()).toEqual(Array.from({ length: n }, (_, i) => `PUSH before q${i}`).sort());
    });

    it('a frame that arrives while no request is unanswered goes to onData', async () => {
      const upstream = await server((socket, count) => {
        echoLines(socket, count);
        socket.write('unsolicited\n');
      });
      const data: string[] = [];
      const conn = new PersistentConnection(
        upstream.endpoint,
        { onData: (frame) => void data.push(frame.toString()) },
        { ...quick, framing: lines() },
      );
      scope.defer(() => conn.disconnect());
      conn.connect();
      await until(conn, 'frame', () => data.length === 1);
      expect((await conn.request('asked\n')).toString()).toBe('asked');
      expect(data).toEqual(['unsolicited']);
    });

    it('an isReply that throws resets the connection with ERR_PROTOCOL', async () => {
      const upstream = await server();
      const conn = connection(upstream.endpoint, {
        isReply: () => {
          throw new Error('bad frame');
        },
      });
      const request = rejection(conn.request('x\n'));
      const [error] = (await next(conn, 'reset')) as [ConnmanError];
      expect(error.code).toBe('ERR_PROTOCOL');
      expect((error.cause as Error).message).toBe('bad frame');
      expect((await request).code).toBe('ERR_CONNECTION_CLOSED');
    });
  });

  describe('deadlines', () => {
    it('rejects with ERR_REQUEST_TIMEOUT at its deadline and resets the connection; the late reply reaches nobody', async () => {
      const log = new LineLog();
      let answer!: (socket: Socket, line: string) => void;
      const upstream = await server(
        lineHandler((line, socket) => {
          log.push(line);
          answer(socket, line);
        }),
      );
      const held: [Socket, string][] = [];
      answer = (socket, line) => void held.push([socket, line]);
      const data: string[] = [];
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        requestTimeoutMillis: 80,
        callbacks: { onData: (frame) => void data.push(frame.toString()) },
      });
      await p.open();
      const conn = p.connections[0];
      const started = Date.now();
      const slow = rejection(p.request('slow\n'));
      const other = rejection(p.request('other\n', { timeoutMillis: 5000 }));
      const error = await slow;
      expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(75);
      expect(Date.now() - started).toBeLessThan(1000);
      // The connection was reset: the other request on it failed at once.
      const otherError = await other;
      expect(otherError.code).toBe('ERR_CONNECTION_CLOSED');
      expect((otherError.cause as ConnmanError).code).toBe('ERR_REQUEST_TIMEOUT');
      // The late replies come (on the old socket, now closed): nothing reaches a handler.
      for (const [socket, line] of held) if (!socket.destroyed) socket.write(`${line}\n`);
      answer = (socket, line) => socket.write(`${line}\n`);
      await until(p, 'reconnect', () => conn.connected);
      expect((await p.request('fresh\n')).toString()).toBe('fresh');
      expect(data).toEqual([]);
    });

    it('with resetOnRequestTimeout false, a late reply is consumed in order and never answers the next request', async () => {
      let answer!: (socket: Socket, line: string) => void;
      const held: [Socket, string][] = [];
      answer = (socket, line) => void held.push([socket, line]);
      const upstream = await server(lineHandler((line, socket) => answer(socket, line)));
      const data: string[] = [];
      const p = pool({
        ...upstream.endpoint,
        min: 1,
        max: 1,
        requestTimeoutMillis: 60,
        resetOnRequestTimeout: false,
        callbacks: { onData: (frame) => void data.push(frame.toString()) },
      });
      await p.open();
      expect((await rejection(p.request('first\n'))).code).toBe('ERR_REQUEST_TIMEOUT');
      expect(p.connections[0].pendingRequests).toBe(1); // its reply is still expected
      const second = p.request('second\n', { timeoutMillis: 5000 });
      answer = (socket, line) => socket.write(`${line}\n`);
      for (const [socket, line] of held) socket.write(`${line}\n`); // the late reply of 'first'
      expect((await second).toString()).toBe('second');
      expect(data).toEqual([]);
      expect(p.connections[0].pendingRequests).toBe(0);
      expect(p.connections[0].connected).toBe(true);
    });

    it('a request that finds no ready connection rejects with ERR_REQUEST_TIMEOUT carrying the last connect error', async () => {
      const upstream = await server();
      const proxy = await FaultProxy.start(upstream.endpoint);
      scope.defer(() => proxy.close());
      await proxy.down();
      const p = pool({ ...proxy.endpoint, min: 1, max: 1, requestTimeoutMillis: 150 });
      const failed = next(p, 'createError');
      await p.open({ wait: false });
      await failed;
      const error = await rejection(p.request('x\n'));
      expect(error.code).toBe('ERR_REQUEST_TIMEOUT');
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      expect(p.stats().waitingRequests).toBe(0);
    });

    it('an aborted signal rejects a waiting request with ERR_REQUEST_ABORTED and leaves no trace', async () => {
      const upstream = await server();
      const proxy = await FaultProxy.start(upstream.endpoint);
      scope.defer(() => proxy.close());
      await proxy.down();
      const p = pool({ ...proxy.endpoint, min: 1, max: 1 });
      const controller = new AbortController();
      const waiting = Array.from({ length: 1000 }, (_, i) =>
        rejection(p.request(`w${i}\n`, { signal: controller.signal })),
      );
      expect(p.stats().waitingRequests).toBe(1000);
      controller.abort(new Error('user gave up'));
      const errors = await Promise.all(waiting);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['ERR_REQUEST_ABORTED']));
      expect((errors[0].cause as Error).message).toBe('user gave up');
      expect(p.stats().waitingRequests).toBe(0);
      expect((await rejection(p.request('x\n', { signal: controller.signal }))).code).toBe('ERR_REQUEST_ABORTED');
    });

    it('an abort after writing rejects at once; the reply is consumed in order', async () => {
      const held: [Socket, string][] = [];
      const answer = (socket: Socket, line: string): void => void held.push([socket, line]);
      const log = new LineLog();
      const upstream = await server(
        lineHandler((line, socket) => {
          log.push(line);
          answer(socket, line);
        }),
      );
      const data: string[] = [];
      const conn = new PersistentConnection(
        upstream.endpoint,
        { onData: (frame) => void data.push(frame.toString()) },
        { ...quick, framing: lines() },
      );
      scope.defer(() => conn.disconnect());
      await conn.waitUntilConnected(2000);
      const controller = new AbortController();
      const aborted = rejection(conn.request('first\n', { signal: controller.signal }));
      const second = conn.request('second\n');
      await log.until(2);
      controller.abort();
      expect((await aborted).code).toBe('ERR_REQUEST_ABORTED');
      for (const [socket, line] of held) socket.write(`${line}\n`);
      expect((await second).toString()).toBe('second');
      expect(data).toEqual([]);
    });
  });

  describe('resets', () => {
    it('a reset with 1,000 requests outstanding rejects every one at once with ERR_CONNECTION_CLOSED; none resolves', async () => {
      const log = new LineLog();
      const upstream = await server(lineHandler((line) => log.push(line))); // reads, never answers
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      await p.open();
      const requests = Array.from({ length: 1000 }, (_, i) => p.request(`r${i}\n`));
      await log.until(1000);
      expect(p.stats().pendingRequests).toBe(1000);
      upstream.resetAll();
      const results = await outcomes(requests);
      expect(new Set(results)).toEqual(new Set(['ERR_CONNECTION_CLOSED']));
      const error = await rejection(requests[0]);
      expect(error.message).toMatch(/may or may not have reached the peer/);
      expect(p.stats().pendingRequests).toBe(0);
    });

    it('a request on a connection that resets while others wait is not written twice; the pool heals', async () => {
      const upstream = await server();
      const proxy = await FaultProxy.start(upstream.endpoint);
      scope.defer(() => proxy.close());
      const p = pool({ ...proxy.endpoint, min: 2, max: 2 });
      await p.open();
      await proxy.waitForConnection(2); // both reached the proxy: the reset hits both
      const first = Array.from({ length: 100 }, (_, i) => p.request(`a${i}\n`));
      await proxy.resetPeers();
      const results = await outcomes(first);
      for (const r of results) expect(r === 'ERR_CONNECTION_CLOSED' || r.startsWith('ok:a')).toBe(true);
      await until(p, 'reconnect', () => p.stats().connected === 2);
      const again = await Promise.all(Array.from({ length: 10 }, (_, i) => p.request(`b${i}\n`)));
      expect(again.map(String)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
    });

    it('disconnect() rejects unanswered and waiting requests with ERR_CONNECTION_CLOSED', async () => {
      const upstream = await server(() => undefined);
      const conn = connection(upstream.endpoint);
      await conn.waitUntilConnected(2000);
      const written = rejection(conn.request('a\n'));
      await conn.disconnect();
      const error = await written;
      expect(error.code).toBe('ERR_CONNECTION_CLOSED');
      expect((await rejection(conn.request('b\n'))).code).toBe('ERR_CONNECTION_CLOSED');
    });
  });

  describe('pool life', () => {
    it('close() lets requests in flight finish within the grace period and fails waiting ones with ERR_POOL_CLOSED', async () => {
      const held: [Socket, string][] = [];
      const answer = (socket: Socket, line: string): void => void held.push([socket, line]);
      const log = new LineLog();
      const upstream = await server(
        lineHandler((line, socket) => {
          log.push(line);
          answer(socket, line);
        }),
      );
      const p = pool({ ...upstream.endpoint, min: 1, max: 1 });
      await p.open();
      const inFlight = p.request('in-flight\n');
      await log.until(1);
      const closing = p.close({ timeoutMillis: 5000 });
      expect((await rejection(p.request('after\n'))).code).toBe('ERR_POOL_CLOSED');
      for (const [socket, line] of held) socket.write(`${line}\n`);
      expect((await inFlight).toString()).toBe('in-flight');
      await closing;
      expect(p.state).toBe('closed');
    });

    it('rejects a waiting request beyond maxWaitingClients at once with ERR_TOO_MANY_WAITERS', async () => {
      const upstream = await server();
      const proxy = await FaultProxy.start(upstream.endpoint);
      scope.defer(() => proxy.close());
      await proxy.down();
      const p = pool({ ...proxy.endpoint, min: 1, max: 1, maxWaitingClients: 2, requestTimeoutMillis: 200 });
      const a = rejection(p.request('a\n'));
      const b = rejection(p.request('b\n'));
      expect((await rejection(p.request('c\n'))).code).toBe('ERR_TOO_MANY_WAITERS');
      expect((await a).code).toBe('ERR_REQUEST_TIMEOUT');
      expect((await b).code).toBe('ERR_REQUEST_TIMEOUT');
    });
  });

  describe('bad input', () => {
    it('request() without framing rejects with ERR_INVALID_OPTIONS naming framing', async () => {
      const upstream = await server();
      const p = new ConnectionPool({ name: 'raw', ...upstream.endpoint, ...quick });
      scope.defer(() => p.close({ timeoutMillis: 0 }));
      const error = await rejection(p.request('x\n'));
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).toMatch(/'framing'/);
      expect(p.state).toBe('new');
    });

    it.each([
      ['an empty payload', '', undefined, /payload/],
      ['a number payload', 42, undefined, /payload/],
      ['a negative timeout', 'x\n', { timeoutMillis: -1 }, /'timeoutMillis'/],
      ['a string timeout', 'x\n', { timeoutMillis: '100' }, /'timeoutMillis'/],
      ['a signal that is not one', 'x\n', { signal: {} }, /'signal'/],
      ['an unknown option', 'x\n', { timeout: 100 }, /'timeout'/],
      ['options that are not an object', 'x\n', 5, /expected/],
    ])('rejects %s with ERR_INVALID_OPTIONS before anything changes', async (_name, payload, options, pattern) => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, min: 1 });
      const error = await rejection(p.request(payload as string, options as never));
      expect(error.code).toBe('ERR_INVALID_OPTIONS');
      expect(error.message).toMatch(pattern);
      expect(p.state).toBe('new');
    });
  });
});
