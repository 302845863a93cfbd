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
   * A line server: `slow` is held (answered when the test says), `mute` is
   * never answered, anything else `q` is answered `reply:q` at once.
   */
  async function server(): Promise<{ endpoint: { host: string; port: number }; held: Socket[]; release(): void }> {
    const held: Socket[] = [];
    const upstream = await TestServer.start({
      handler: lineHandler((line, socket) => {
        if (line === 'slow') held.push(socket);
        else if (line !== 'mute') socket.write(`reply:${line}\n`);
      }),
    });
    scope.defer(() => upstream.stop());
    return {
      endpoint: upstream.endpoint,
      held,
      release: () => {
        for (const socket of held.splice(0)) socket.write('reply:slow (late)\n');
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
    'a request %s after it was written: its connection is lent only once the late reply was read, and the borrower never sees it',
    async (_how, extra) => {
      const upstream = await server();
      const p = pool({ ...upstream.endpoint, ...extra });
      await p.open();
      const controller = new AbortController();
      const aborted = 'resetOnRequestTimeout' in extra ? undefined : controller;
      const request = outcome(p.request('slow\n', aborted ? { signal: aborted.signal } : { timeoutMillis: 50 }));
      await eventually(() => upstream.held.length === 1);
      const waiting = p.acquire({ timeoutMillis: 5000 });
      aborted?.abort();
      expect(await request).toBe(aborted ? 'ERR_REQUEST_ABORTED' : 'ERR_REQUEST_TIMEOUT');
      // Settled, but its reply is still to come: not lent yet.
      expect(await within(waiting, 100)).toBe(false);
      upstream.release();
      const lease = await waiting;
      expect(await firstRead(lease.socket)).toBe('reply:ping\n');
      lease.release();
      expect(p.stats()).toMatchObject({ leased: 0, waiting: 0, pendingRequests: 0 });
    },
  );

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
    first.release();
    const next = p.acquire({ timeoutMillis: 5000 });
    expect(await within(next, 100)).toBe(false);
    expect(p.tryAcquire()).toBeUndefined();
    upstream.release();
    const lease = await next;
    expect(await firstRead(lease.socket)).toBe('reply:ping\n');
    lease.release();
  });

  it('a connection holding only a late reply still serves shared requests, in order, while acquires wait', async () => {
    const upstream = await server();
    const p = pool({ ...upstream.endpoint });
    await p.open();
    const controller = new AbortController();
    const aborted = outcome(p.request('slow\n', { signal: controller.signal }));
    await eventually(() => upstream.held.length === 1);
    controller.abort();
    expect(await aborted).toBe('ERR_REQUEST_ABORTED');
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

  it('a heartbeat is not sent behind a slow reply: the request settles by its own deadline, the connection stays', async () => {
    const upstream = await server();
    const p = pool({
      ...upstream.endpoint,
      heartbeat: { intervalMillis: 30, payload: 'hb\n', timeoutMillis: 30 },
      requestTimeoutMillis: 2000,
    });
    await p.open();
    const resets: Error[] = [];
    p.on('reset', (error) => void resets.push(error));
    const slow = p.request('slow\n');
    await eventually(() => upstream.held.length === 1);
    await delay(200); // several heartbeat intervals pass while the reply is held

    upstream.release();
    expect((await slow).toString()).toBe('reply:slow (late)');
    expect(resets).toEqual([]);
  });
});
