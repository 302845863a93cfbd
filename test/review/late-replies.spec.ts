/**
 * Adversarial review: a reply that comes after its request settled (aborted,
 * or timed out) must never reach a borrower, and a connection a timeout
 * resets must never be lent on the way. Also: a socket found dead while
 * `pick()` or `request()` chooses a connection, a `validate()` whose result
 * has a throwing `then`, and a heartbeat behind a slow reply.
 */
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { ConnectionPool, lines, type PoolOptions } from '../../lib/index.js';
import { lineHandler } from '../helpers/line-server.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';
import { delay, eventually, outcome, quick, within } from './review-helpers.js';

describe('review: late replies and exclusive leases', () => {
  const scope = useScope();

  /**
   * A line server that answers in order, as pipelining servers do: `slow` is
   * held until the test releases it (and every later line waits behind it),
   * `mute` is never answered, anything else `q` is answered `reply:q`.
   */
  async function server(): Promise<{
    endpoint: { host: string; port: number };
    held: Socket[];
    seen: string[];
    release(): void;
  }> {
    const held: Socket[] = [];
    const seen: string[] = [];
    const backlog = new Map<Socket, string[]>();
    const answer = (socket: Socket, line: string): void => {
      if (line !== 'mute' && !socket.destroyed) socket.write(`reply:${line}\n`);
    };
    const upstream = await TestServer.start({
      handler: lineHandler((line, socket) => {
        seen.push(line);
        const waiting = backlog.get(socket);
        if (waiting !== undefined) waiting.push(line);
        else if (line === 'slow') {
          held.push(socket);
          backlog.set(socket, []);
        } else answer(socket, line);
      }),
    });
    scope.defer(() => upstream.stop());
    return {
      endpoint: upstream.endpoint,
      held,
      seen,
      release: () => {
        for (const socket of held.splice(0)) {
          if (!socket.destroyed) socket.write('reply:slow (late)\n');
          const waiting = backlog.get(socket) ?? [];
          backlog.delete(socket);
          for (const line of waiting) answer(socket, line);
        }
      },
    };
  }

  function pool(options: Partial<PoolOptions>): ConnectionPool {
    const p = new ConnectionPool({
      name: 'late',
      min: 1,
      max: 1,
      framing: lines(),
      ...quick,
      ...options,
    } as PoolOptions);
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    return p;
  }

  /** A pool request for `slow`, aborted once the server holds it: its reply is still due. */
  async function abortAfterWritten(p: ConnectionPool, upstream: { held: Socket[] }): Promise<void> {
    const controller = new AbortController();
    const aborted = outcome(p.request('slow\n', { signal: controller.signal }));
    await eventually(() => upstream.held.length === 1);
    controller.abort();
    expect(await aborted).toBe('ERR_REQUEST_ABORTED');
  }

  /** What the borrower reads first after writing `ping`: its own reply, or something meant for someone else. */
  async function firstRead(socket: Socket): Promise<string> {
    const first = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    socket.write('ping\n');
    return first;
  }

  it.each([
    ['aborted', {}],
    ['timed out, with resetOnRequestTimeout false', { resetOnRequestTimeout: false }],
  ])(
    'a request %s after it was written: a borrower gets the connection reconnected at once, without backoff, and never sees the late reply',
    async (_how, extra) => {
      const upstream = await server();
      // Default backoff (a 100 ms floor, doubling): a reconnect that waited it out, or grew it, would show.
      const p = new ConnectionPool({ name: 'late', ...upstream.endpoint, min: 1, max: 1, framing: lines(), ...extra });
      scope.defer(() => p.close({ timeoutMillis: 0 }));
      await p.open();
      const resets: string[] = [];
      p.on('reset', (error) => void resets.push(error.message));
      for (let round = 1; round <= 4; round++) {
        const before = p.connections[0].socket;
        const controller = new AbortController();
        const options = 'resetOnRequestTimeout' in extra ? { timeoutMillis: 50 } : { signal: controller.signal };
        const request = outcome(p.request('slow\n', options));
        await eventually(() => upstream.held.length === 1);
        const waiting = p.acquire({ timeoutMillis: 5000 });
        controller.abort();
        expect(['ERR_REQUEST_ABORTED', 'ERR_REQUEST_TIMEOUT']).toContain(await request);
        const lease = await waiting;
        expect(lease.socket).not.toBe(before);
        expect(p.connections[0].failedAttempts).toBe(0); // not counted as a failure of the peer
        upstream.release(); // too late: written to the old connection, which is closed
        expect(await firstRead(lease.socket)).toBe('reply:ping\n');
        lease.release();
        expect(resets).toHaveLength(round);
        expect(resets[round - 1]).toContain('reconnected before it is lent');
      }
      expect(p.stats()).toMatchObject({ size: 1, leased: 0, waiting: 0, pendingRequests: 0 });
    },
  );

  it('a late reply due on an idle connection: tryAcquire() lends nothing now, and the connection is back at once', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint, min: 0, max: 1 });
    await p.open();
    await (await p.acquire()).release();
    const before = p.connections[0].socket;
    await abortAfterWritten(p, upstream);
    expect(p.tryAcquire()).toBeUndefined();
    const lease = await p.acquire({ timeoutMillis: 2000 });
    expect(lease.socket).not.toBe(before);
    expect(p.stats().size).toBe(1); // reconnected in place, not retired (even above min)
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('a late reply read before anyone borrows: the connection is lent as it is, with no reset', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    const before = p.connections[0].socket;
    await abortAfterWritten(p, upstream);
    const read = new Promise((resolve) => p.connections[0].socket!.once('data', resolve));
    upstream.release();
    await read;
    await eventually(() => p.stats().pendingRequests === 0);
    const lease = await p.acquire();
    expect(lease.socket).toBe(before);
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('a borrower that aborts its own lease.request() and releases: the next borrower does not read that reply', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    const first = await p.acquire();
    const controller = new AbortController();
    const request = outcome(first.request('slow\n', { signal: controller.signal }));
    await eventually(() => upstream.held.length === 1);
    controller.abort();
    expect(await request).toBe('ERR_REQUEST_ABORTED');
    const before = first.socket;
    first.release();
    const lease = await p.acquire({ timeoutMillis: 5000 });
    expect(lease.socket).not.toBe(before);
    upstream.release();
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('close() from a reset handler while acquire() takes a connection: the acquire rejects with ERR_POOL_CLOSED at once', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    await abortAfterWritten(p, upstream);
    const closing: Promise<void>[] = [];
    p.once('reset', () => void closing.push(p.close()));
    // A late reply is due: taking the connection reconnects it, and that reset's handler closes the pool.
    const acquired = outcome(p.acquire({ timeoutMillis: 3000 }));
    expect(await within(acquired, 200)).toBe(true);
    expect(await acquired).toBe('ERR_POOL_CLOSED');
    await Promise.all(closing);
  });

  it('requests made on a connection directly (pick().request()) keep it from being lent until they settle', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    const direct = p.pick().request('slow\n');
    await eventually(() => upstream.held.length === 1);
    const waiting = p.acquire({ timeoutMillis: 5000 });
    expect(await within(waiting, 100)).toBe(false);
    upstream.release();
    expect((await direct).toString()).toBe('reply:slow (late)');
    const lease = await waiting;
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('a connection holding only a late reply still serves shared requests, in order, while acquires wait', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    await abortAfterWritten(p, upstream);
    const shared = p.request('after\n');
    upstream.release();
    expect((await shared).toString()).toBe('reply:after');
    const lease = await p.acquire({ timeoutMillis: 1000 });
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('a request timeout with the default reset: the waiting acquire gets a live connection, never the reset one', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    const before = p.connections[0].socket;
    const request = outcome(p.request('mute\n', { timeoutMillis: 50 }));
    const waiting = p.acquire({ timeoutMillis: 5000 });
    expect(await request).toBe('ERR_REQUEST_TIMEOUT');
    const lease = await waiting;
    expect(lease.socket.destroyed).toBe(false);
    expect(lease.socket).not.toBe(before);
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('pick() when the connection it would choose was ended by its user: another one, never a TypeError', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint, min: 1, max: 2 });
    await p.open();
    const [a, b] = [await p.acquire(), await p.acquire()];
    a.release();
    b.release();
    p.connections[0].socket!.end(); // its user ends one idle socket
    const picked = p.pick();
    expect(picked.socket?.destroyed).toBe(false);
    expect((await picked.request('x\n')).toString()).toBe('reply:x');
  });

  it('request() while an acquire waits and a busy connection was ended by its user: a typed outcome, never a TypeError', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint, min: 1, max: 2, requestTimeoutMillis: 2000 });
    await p.open();
    const [a, b] = [await p.acquire(), await p.acquire()];
    a.release();
    b.release();
    // Both connections busy with a shared request, an acquire waiting for one of them.
    const held = [outcome(p.request('mute\n')), outcome(p.request('mute\n'))];
    const waiting = outcome(p.acquire({ timeoutMillis: 300 }));
    p.connections[1].socket!.end(); // its user ends one socket
    let result: string;
    try {
      result = await outcome(p.request('hi\n', { timeoutMillis: 300 }));
    } catch (error) {
      result = `threw ${String(error)}`;
    }
    expect(['ok:reply:hi', 'ERR_REQUEST_TIMEOUT']).toContain(result);
    expect(await waiting).toMatch(/^(ok:|ERR_ACQUIRE_TIMEOUT$)/);
    await p.close({ timeoutMillis: 0 });
    for (const h of held)
      expect(['ERR_CONNECTION_CLOSED', 'ERR_POOL_CLOSED', 'ERR_REQUEST_TIMEOUT']).toContain(await h);
  });

  it('validate() returning an object whose then getter throws: a failed validation, not an uncaught exception', async () => {
    const upstream = await server();
    let calls = 0;
    const p = pool({
      ...upstream.endpoint,
      validate: () => {
        calls++;
        if (calls > 1) return true;
        return {
          get then(): never {
            throw new Error('then getter');
          },
        } as unknown as boolean;
      },
    });
    await p.open();
    const lease = await p.acquire({ timeoutMillis: 2000 });
    expect(calls).toBeGreaterThanOrEqual(2); // the first connection failed validation and was replaced
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  /**
   * A pool heartbeating every 30 ms (30 ms to answer) whose requests have 2 s, and the resets it
   * reports; `behind()` waits until a heartbeat has reached the server behind the held reply, then
   * lets well over the probe's own 30 ms pass: that span is what is under test (no reset in it).
   */
  async function heartbeating(upstream: Awaited<ReturnType<typeof server>>) {
    const p = pool({
      ...upstream.endpoint,
      heartbeat: { intervalMillis: 30, payload: 'hb\n', timeoutMillis: 30 },
      requestTimeoutMillis: 2000,
    });
    await p.open();
    const resets: Error[] = [];
    p.on('reset', (error) => void resets.push(error));
    const behind = async (): Promise<void> => {
      await eventually(() => upstream.seen.includes('hb'));
      await delay(100);
    };
    return { p, resets, behind };
  }

  it('a heartbeat behind a slow reply waits for that reply within its deadline: the connection stays', async () => {
    const upstream = await server();
    const { p, resets, behind } = await heartbeating(upstream);
    const slow = p.request('slow\n');
    await eventually(() => upstream.held.length === 1);
    await behind();
    upstream.release();
    expect((await slow).toString()).toBe('reply:slow (late)');
    expect(resets).toEqual([]);
  });

  it('a heartbeat behind the late reply of an aborted request waits for that reply within its deadline', async () => {
    const upstream = await server();
    const { p, resets, behind } = await heartbeating(upstream);
    await abortAfterWritten(p, upstream);
    await behind();
    const fast = p.request('fast\n');
    upstream.release();
    expect((await fast).toString()).toBe('reply:fast');
    expect(resets).toEqual([]);
  });

  it('a heartbeat behind requests that time out without reset still finds a peer that stopped answering', async () => {
    const upstream = await server();
    const p = pool({
      ...upstream.endpoint,
      resetOnRequestTimeout: false,
      heartbeat: { intervalMillis: 30, payload: 'hb\n', timeoutMillis: 30, idle: 'read' },
      requestTimeoutMillis: 60,
    });
    await p.open();
    const reset = new Promise<Error>((resolve) => p.once('reset', resolve));
    // Steady traffic to a peer that answers nothing any more (every line waits behind 'slow').
    const outcomes: Promise<string>[] = [outcome(p.request('slow\n'))];
    const traffic = setInterval(() => outcomes.push(outcome(p.request('x\n'))), 20);
    try {
      expect(await reset).toMatchObject({ code: 'ERR_HEARTBEAT_TIMEOUT' });
    } finally {
      clearInterval(traffic);
    }
    for (const result of await Promise.all(outcomes)) {
      expect(['ERR_REQUEST_TIMEOUT', 'ERR_CONNECTION_CLOSED', 'ok:reply:x']).toContain(result);
    }
  });
});
