// Reliability matrix, rows 7-11: faults on established connections.
// Each test is named after the row of /work/shared/RELIABILITY.md it checks.
import { describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { lines, type ConnmanError, type ConnmanSocket, type Lease } from 'nestjs-connman';
import { type TestServer } from 'nestjs-connman/testing';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { HoldingLines, Rig, expectConsistent, listenerCounts, seeded, stopwatch } from './kit.js';

const MARGIN = 2000;

/** The server's side of the connection whose client side is `socket` (once the server has accepted it). */
async function serverSideOf(server: TestServer, socket: ConnmanSocket): Promise<Socket> {
  const find = () => [...server.sockets].find((s) => s.remotePort === socket.localPort);
  await until(server, 'connection', () => find() !== undefined);
  return find()!;
}

/** Reads from `socket` until `length` bytes came (or it closed); resolves with what came, in order. */
function readBytes(socket: ConnmanSocket, length: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (): void => {
      socket.off('data', onData);
      socket.off('close', done);
      resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) done();
    };
    socket.on('data', onData);
    socket.once('close', done);
  });
}

/** `length` bytes of a repeatable pattern: each lease gets its own. */
function pattern(seed: number, length: number): Buffer {
  const random = seeded(seed);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

describe('reliability matrix: faults on established connections', () => {
  const scope = useScope();
  const rig = new Rig(scope);

  describe('row 7: RST while leased', () => {
    it("row 7: an RST while leased errors the borrower's socket (ECONNRESET); the connection is never handed to another borrower; the pool is refilled", async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 2, max: 2 });
      await p.open();
      const victim = await p.acquire();
      const other = await p.acquire();
      const errors: NodeJS.ErrnoException[] = [];
      victim.socket.on('error', (error) => void errors.push(error));
      const waiter = p.acquire({ timeoutMillis: 5000 });
      (await serverSideOf(upstream, victim.socket)).resetAndDestroy();
      if (!victim.socket.closed) await next(victim.socket, 'close');
      expect(errors.map((e) => e.code)).toEqual(['ECONNRESET']);
      const replacement = await waiter;
      expect(replacement.socket).not.toBe(victim.socket);
      expect(replacement.socket).not.toBe(other.socket);
      expect(replacement.socket.destroyed).toBe(false);
      // The dead lease's release changes nothing: it is never lent again.
      victim.release();
      other.release();
      replacement.release();
      const again = await Promise.all([p.acquire(), p.acquire()]);
      for (const lease of again) expect(lease.socket).not.toBe(victim.socket);
      for (const lease of again) lease.release();
      expect(p.stats()).toMatchObject({ size: 2, connected: 2, idle: 2, leased: 0, waiting: 0 });
      expectConsistent(p);
    });
  });

  describe('row 8: RST while idle', () => {
    it('row 8: an RST on idle connections with no listener of the user leaves the process running, and the pool heals', async () => {
      const upstream = await rig.server();
      const p = rig.pool({ ...upstream.endpoint, min: 3, max: 3 });
      await p.open();
      await upstream.waitForConnection(3);
      expect(p.listenerCount('error')).toBe(0);
      expect(p.listenerCount('reset')).toBe(0);
      const sockets = p.connections.map((c) => c.socket);
      let resets = 0;
      let allReset!: () => void;
      const reset = new Promise<void>((resolve) => (allReset = resolve));
      p.connections.forEach((c) => c.on('reset', () => ++resets === 3 && allReset()));
      await upstream.resetAll();
      await reset;
      await until(p, 'reconnect', () => p.stats().connected === 3);
      for (const c of p.connections) expect(sockets).not.toContain(c.socket);
      expect(p.stats()).toMatchObject({ size: 3, connected: 3, idle: 3 });
      expectConsistent(p);
    });

    it('row 8: a single connection with no listener at all survives an RST and heals', async () => {
      const upstream = await rig.server();
      const conn = rig.connection(upstream.endpoint);
      await conn.waitUntilConnected(2000);
      await upstream.waitForConnection(1);
      const before = conn.socket;
      const reset = next(conn, 'reset');
      await upstream.resetAll();
      await reset;
      const socket = await conn.waitUntilConnected(2000);
      expect(socket).not.toBe(before);
    });
  });

  describe('row 9: peer FIN (half-close)', () => {
    it('row 9: when the peer half-closes, the library destroys the socket (no CLOSE_WAIT left) and reconnects', async () => {
      const upstream = await rig.server({ allowHalfOpen: true });
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, socketOptions: { allowHalfOpen: true } });
      await p.open();
      const socket = p.connections[0].socket!;
      const peer = await serverSideOf(upstream, socket);
      peer.resume();
      const peerSawEnd = once(peer, 'end');
      peer.end();
      await once(socket, 'close');
      expect(socket.destroyed).toBe(true);
      // Our side closed too: the peer reads our FIN, so neither side lingers half-open.
      await peerSawEnd;
      await next(p, 'reconnect');
      expect(p.connections[0].socket).not.toBe(socket);
      expectConsistent(p);
    });

    it("row 9: a peer FIN under a borrower closes the lease's socket; the connection is replaced, never lent again", async () => {
      const upstream = await rig.server({ allowHalfOpen: true });
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, socketOptions: { allowHalfOpen: true } });
      const lease = await p.acquire();
      const waiter = p.acquire({ timeoutMillis: 5000 });
      (await serverSideOf(upstream, lease.socket)).end();
      if (!lease.socket.closed) await once(lease.socket, 'close');
      const fresh = await waiter;
      expect(fresh.socket).not.toBe(lease.socket);
      expect(fresh.socket.destroyed).toBe(false);
      lease.release();
      fresh.release();
      expectConsistent(p);
    });
  });

  describe('row 10: zombie peer', () => {
    it('row 10: a zombie peer (the proxy stops forwarding) is detected by readIdleTimeoutMillis within the timeout, and the connection reconnects', async () => {
      // A peer that normally speaks every 20 ms.
      const upstream = await rig.server({
        handler: (socket) => {
          const timer = setInterval(() => socket.write('tick\n'), 20);
          socket.once('close', () => clearInterval(timer));
        },
      });
      const proxy = await rig.proxy(upstream.endpoint);
      const idle = 150;
      const p = rig.pool({ ...proxy.endpoint, min: 1, max: 1, readIdleTimeoutMillis: idle });
      await p.open();
      const conn = p.connections[0];
      const elapsed = stopwatch();
      let lastRead = 0;
      conn.on('data', () => void (lastRead = elapsed()));
      await next(conn, 'data');
      proxy.stalled = true;
      const stalledAt = elapsed();
      const [error] = await next<[ConnmanError]>(p, 'reset');
      const resetAt = elapsed();
      expect(error.code).toBe('ERR_READ_IDLE_TIMEOUT');
      // Declared dead a full timeout after the last byte read, and soon after the stall.
      expect(resetAt - lastRead).toBeGreaterThanOrEqual(idle - 2);
      expect(resetAt - stalledAt).toBeLessThan(idle + MARGIN);
      proxy.heal();
      await next(p, 'reconnect');
      await next(conn, 'data');
      expectConsistent(p);
    });

    it('row 10: without a read-idle timeout (or heartbeat) a zombie stays connected: the timeout is what notices', async () => {
      const upstream = await rig.server({
        handler: (socket) => {
          const timer = setInterval(() => socket.write('tick\n'), 20);
          socket.once('close', () => clearInterval(timer));
        },
      });
      const proxy = await rig.proxy(upstream.endpoint);
      const withTimeout = rig.connection(proxy.endpoint, {}, { readIdleTimeoutMillis: 100 });
      const without = rig.connection(proxy.endpoint);
      await Promise.all([withTimeout.waitUntilConnected(2000), without.waitUntilConnected(2000)]);
      await next(without, 'data');
      proxy.stalled = true;
      const [error] = await next<[ConnmanError]>(withTimeout, 'reset');
      expect(error.code).toBe('ERR_READ_IDLE_TIMEOUT');
      expect(without.connected).toBe(true);
    });
  });

  describe('row 11: sliced and truncated data', () => {
    it("row 11: through a 1-byte slicer, a lease's data events carry every byte, in order", async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      proxy.sliced = true;
      const p = rig.pool({ ...proxy.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      const sent = pattern(11, 3000);
      const received = readBytes(lease.socket, sent.length);
      lease.socket.write(sent);
      const got = await received;
      expect(got.equals(sent)).toBe(true);
      lease.release();
    });

    it("row 11: two leases on sliced connections each read exactly their own bytes, never the other's", async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      proxy.set({ sliced: true, sliceBytes: 7 });
      const p = rig.pool({ ...proxy.endpoint, min: 2, max: 2 });
      const [a, b] = await Promise.all([p.acquire(), p.acquire()]);
      const sentA = pattern(1, 2000);
      const sentB = pattern(2, 2000);
      const gotA = readBytes(a.socket, sentA.length);
      const gotB = readBytes(b.socket, sentB.length);
      a.socket.write(sentA);
      b.socket.write(sentB);
      expect((await gotA).equals(sentA)).toBe(true);
      expect((await gotB).equals(sentB)).toBe(true);
      // Sequential borrowers of one connection: the second reads only what it asked for.
      a.release();
      b.release();
      const c = await p.acquire();
      const sentC = pattern(3, 500);
      const gotC = readBytes(c.socket, sentC.length);
      c.socket.write(sentC);
      expect((await gotC).equals(sentC)).toBe(true);
      c.release();
    });

    it('row 11: data cut short by the peer (limit) reaches the borrower as an in-order prefix; the next borrower gets a fresh connection with none of it', async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      const p = rig.pool({ ...proxy.endpoint, min: 1, max: 1 });
      const lease = await p.acquire();
      const waiter = p.acquire({ timeoutMillis: 5000 });
      proxy.downstream.limitBytes = 1000;
      const sent = pattern(4, 3000);
      const received = readBytes(lease.socket, sent.length);
      lease.socket.write(sent);
      const got = await received;
      expect(got.length).toBe(1000);
      expect(got.equals(sent.subarray(0, 1000))).toBe(true);
      proxy.heal();
      lease.release();
      const fresh = await waiter;
      expect(fresh.socket).not.toBe(lease.socket);
      const mine = Buffer.from('only mine\n');
      const gotFresh = readBytes(fresh.socket, mine.length);
      fresh.socket.write(mine);
      expect((await gotFresh).equals(mine)).toBe(true);
      fresh.release();
      expectConsistent(p);
    });

    it('row 11: with framing, a frame cut by a reset is never delivered, nor glued to the next connection’s bytes', async () => {
      const upstream = await rig.server({
        handler: (socket, count) => void socket.write(count === 1 ? 'whole-1\nhalf-a-fr' : 'whole-2\n'),
      });
      const proxy = await rig.proxy(upstream.endpoint);
      proxy.sliced = true;
      const frames: string[] = [];
      const p = rig.pool({
        ...proxy.endpoint,
        min: 1,
        max: 1,
        framing: lines(),
        callbacks: { onData: (frame) => void frames.push(frame.toString()) },
      });
      await p.open();
      const conn = p.connections[0];
      await until(conn, 'data', () => (conn.socket?.bytesRead ?? 0) >= 'whole-1\nhalf-a-fr'.length);
      await proxy.resetPeers();
      await until(conn, 'frame', () => frames.includes('whole-2'));
      expect(frames).toEqual(['whole-1', 'whole-2']);
    });

    it('row 11: pipelined requests through a 1-byte slicer each get their own reply', async () => {
      const upstream = await rig.server({ handler: new HoldingLines().handler });
      const proxy = await rig.proxy(upstream.endpoint);
      proxy.set({ sliced: true, sliceBytes: 3 });
      const p = rig.pool({ ...proxy.endpoint, min: 2, max: 2, framing: lines() });
      await p.open();
      const ids = Array.from({ length: 200 }, (_, i) => `id-${i}-${(i * 7919) % 1000}`);
      const replies = await Promise.all(ids.map((id) => p.request(`${id}\n`)));
      expect(replies.map(String)).toEqual(ids);
    });

    // Regression: a connection with shared requests unanswered was lent, and its borrower read
    // their replies (before d0fa9ee).
    it('row 11: a lease is never granted on a connection with requests in flight: the borrower reads no reply meant for another caller', async () => {
      const server = new HoldingLines((line) => line.startsWith('shared'));
      const upstream = await rig.server({ handler: server.handler });
      const p = rig.pool({ ...upstream.endpoint, min: 1, max: 1, framing: lines() });
      await p.open();
      const shared = p.request('shared-reply\n', { timeoutMillis: 5000 });
      await server.until(1);
      const acquiring = p.acquire({ timeoutMillis: 5000 });
      // The shared request's reply comes now: it must reach the request, not a borrower.
      const borrowerSaw: string[] = [];
      let lease: Lease | undefined;
      void acquiring.then((l) => {
        lease = l;
        l.socket.on('data', (chunk: Buffer) => void borrowerSaw.push(chunk.toString()));
      });
      await new Promise<void>((resolve) => setImmediate(resolve));
      server.releaseHeld();
      expect((await shared).toString()).toBe('shared-reply');
      lease ??= await acquiring;
      const mine = readBytes(lease.socket, 'mine\n'.length);
      lease.socket.write('mine\n');
      await mine;
      lease.release();
      expect(borrowerSaw.join('')).toBe('mine\n');
    });

    it('row 11: socket listener counts are back to their baseline after faults and many leases', async () => {
      const upstream = await rig.server();
      const proxy = await rig.proxy(upstream.endpoint);
      const p = rig.pool({ ...proxy.endpoint, min: 1, max: 1 });
      await p.open();
      const socket = p.connections[0].socket!;
      const baseline = listenerCounts(socket);
      for (let i = 0; i < 200; i++) {
        const lease = await p.acquire();
        lease.release();
      }
      expect(listenerCounts(socket)).toEqual(baseline);
      await proxy.resetPeers();
      const fresh = await p.connections[0].waitUntilConnected(2000);
      expect(listenerCounts(fresh)).toEqual(baseline);
    });
  });
});
