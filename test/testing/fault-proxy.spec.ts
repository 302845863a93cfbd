import { describe, expect, it } from '@jest/globals';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { ConnmanError } from '../../lib/index.js';
import { FaultProxy, TestServer, echo, refusedPort, silent, type ConnectionHandler } from 'nestjs-connman/testing';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { selfSigned } from '../helpers/tls.js';
import { within } from '../review/review-helpers.js';
import { Peer } from './peer.js';

/** A byte pattern whose order is checkable: position i holds i mod 251 (a prime, so no short period). */
function pattern(length: number, offset = 0): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buffer[i] = (i + offset) % 251;
  return buffer;
}

function invalidOptions(fn: () => unknown, option: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConnmanError);
  expect(caught).toMatchObject({ code: 'ERR_INVALID_OPTIONS' });
  expect((caught as Error).message).toContain(`'${option}'`);
}

describe('FaultProxy', () => {
  const scope = useScope();

  /** A silent server, a proxy in front of it, a client through the proxy, and the server's side of that client. */
  async function setup(handler: ConnectionHandler = silent) {
    const server = await TestServer.start({ handler });
    scope.defer(() => server.stop());
    const proxy = await FaultProxy.start(server.endpoint);
    scope.defer(() => proxy.close());
    const client = await Peer.connect(proxy.endpoint);
    scope.defer(() => client.destroy());
    const upstream = new Peer(await server.nextConnection());
    return { server, proxy, client, upstream };
  }

  /** Resolves once the proxy holds exactly these many bytes not yet delivered, per direction. */
  function queued(proxy: FaultProxy, upstream: number, downstream: number): Promise<void> {
    return until(proxy, 'read', () => {
      const stats = proxy.stats();
      return stats.upstream.queuedBytes === upstream && stats.downstream.queuedBytes === downstream;
    });
  }

  it('forwards both ways unchanged with no toxic, and counts connections and bytes', async () => {
    const { proxy, client, upstream } = await setup();
    expect(proxy.endpoint).toEqual({ host: '127.0.0.1', port: proxy.port });
    expect(proxy.port).toBeGreaterThan(0);
    client.write('request');
    await upstream.received(7);
    upstream.write('reply!');
    await client.received(6);
    expect([upstream.text, client.text]).toEqual(['request', 'reply!']);
    expect(proxy.stats()).toEqual({
      listening: true,
      connections: 1,
      accepted: 1,
      upstream: { readBytes: 7, deliveredBytes: 7, queuedBytes: 0 },
      downstream: { readBytes: 6, deliveredBytes: 6, queuedBytes: 0 },
    });
    expect([proxy.connections, proxy.accepted]).toEqual([1, 1]);
  });

  it('waitForConnection(n) resolves on the nth accept (at once if already there) and emits connection with the count', async () => {
    const { proxy } = await setup();
    await expect(proxy.waitForConnection(1)).resolves.toBeUndefined();
    const counts: number[] = [];
    proxy.on('connection', (count) => counts.push(count));
    const third = proxy.waitForConnection(3);
    const second = proxy.waitForConnection(proxy.accepted + 1);
    const b = await Peer.connect(proxy.endpoint);
    scope.defer(() => b.destroy());
    await second;
    expect(proxy.accepted).toBe(2);
    const c = await Peer.connect(proxy.endpoint);
    scope.defer(() => c.destroy());
    await third;
    expect(counts).toEqual([2, 3]);
  });

  it('waitForConnection gives up on abort with the signal reason, and refuses a count below 1', async () => {
    const { proxy } = await setup();
    const controller = new AbortController();
    const waiting = proxy.waitForConnection(5, { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    invalidOptions(() => proxy.waitForConnection(0), 'count');
  });

  describe('latency', () => {
    it('delays both directions by at least latencyMillis, switched on a live connection', async () => {
      const { proxy, client, upstream } = await setup();
      client.write('a');
      await upstream.received(1);

      proxy.latencyMillis = 60;
      expect([proxy.upstream.latencyMillis, proxy.downstream.latencyMillis]).toEqual([60, 60]);
      let start = performance.now();
      client.write('b');
      await upstream.received(2);
      expect(performance.now() - start).toBeGreaterThanOrEqual(60);
      start = performance.now();
      upstream.write('c');
      await client.received(1);
      const elapsed = performance.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(60);
      expect(elapsed).toBeLessThan(60 + 2000);
    });

    it('proxy.downstream.latencyMillis delays only replies: the request reaches the server at once', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.downstream.latencyMillis = 500;
      expect(proxy.upstream.latencyMillis).toBe(0);
      expect(proxy.latencyMillis).toBe(500); // reads the stronger of the two
      const start = performance.now();
      client.write('ping');
      await upstream.received(4);
      expect(performance.now() - start).toBeLessThan(500);
      upstream.write('pong');
      await client.received(4);
      expect(performance.now() - start).toBeGreaterThanOrEqual(500);
    });

    it('jitter draws each delay from [latency - jitter, latency + jitter] and never lets a later chunk overtake', async () => {
      const server = await TestServer.start({ handler: silent });
      scope.defer(() => server.stop());
      const draws = [0.999, 0]; // the first chunk draws the longest delay, the second the shortest
      const proxy = await FaultProxy.start(server.endpoint, { random: () => draws.shift() ?? 0.5 });
      scope.defer(() => proxy.close());
      proxy.upstream.set({ latencyMillis: 40, jitterMillis: 20 });
      const client = await Peer.connect(proxy.endpoint);
      scope.defer(() => client.destroy());
      const upstream = new Peer(await server.nextConnection());

      const start = performance.now();
      client.write('first;');
      await queued(proxy, 6, 0); // read on its own, its delay drawn: about 60 ms
      client.write('second');
      await until(proxy, 'read', () => proxy.stats().upstream.readBytes === 12); // drawn: 20 ms
      await upstream.received(12);
      expect(upstream.text).toBe('first;second');
      expect(upstream.arrivals[0] - start).toBeGreaterThanOrEqual(59);
      expect(upstream.arrivals.at(-1)! - start).toBeGreaterThanOrEqual(59);
    });
  });

  describe('stall', () => {
    it('holds the bytes of both directions on a live connection, and heal() delivers all of them, in order', async () => {
      const { proxy, client, upstream } = await setup();
      client.write('before;');
      await upstream.received(7);

      proxy.stalled = true;
      client.write('one;');
      upstream.write('reply;');
      await queued(proxy, 4, 6);
      client.write('two');
      await queued(proxy, 7, 6);
      expect([upstream.text, client.text]).toEqual(['before;', '']);
      expect([client.isClosed, upstream.isClosed]).toEqual([false, false]); // a zombie: open, silent

      proxy.heal();
      expect(proxy.stalled).toBe(false);
      await upstream.received(14);
      await client.received(6);
      expect([upstream.text, client.text]).toEqual(['before;one;two', 'reply;']);
      expect(proxy.stats().upstream.queuedBytes).toBe(0);
    });

    it('stalls one direction only: upstream.stalled holds requests while replies still flow', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.upstream.stalled = true;
      client.write('held');
      upstream.write('flows');
      await client.received(5);
      await queued(proxy, 4, 0);
      expect(upstream.text).toBe('');
      proxy.upstream.stalled = false; // ending the stall by hand delivers what was held, too
      await upstream.received(4);
      expect(upstream.text).toBe('held');
    });
  });

  describe('limit', () => {
    it('downstream.limitBytes: the client gets exactly that many bytes, then the connection closes', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.downstream.limitBytes = 5;
      upstream.write('hello world');
      await client.closed();
      expect(client.text).toBe('hello');
      expect(client.gotEnd).toBe(true); // a FIN, not a reset
      await upstream.closed();
      expect(proxy.connections).toBe(0);
    });

    it('upstream.limitBytes: the server gets exactly that many bytes, then a FIN', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.upstream.limitBytes = 3;
      client.write('abcdef');
      await upstream.closed();
      expect(upstream.text).toBe('abc');
      expect(upstream.gotEnd).toBe(true);
      await client.closed();
    });

    it('counts from when it is set on a live connection; limitBytes = 0 closes open connections at once', async () => {
      const { proxy, client, upstream } = await setup();
      upstream.write('12345');
      await client.received(5);
      proxy.limitBytes = 4; // both directions, each counting its own bytes from now
      upstream.write('abcdefgh');
      await client.closed();
      expect(client.text).toBe('12345abcd');

      const second = await Peer.connect(proxy.endpoint);
      scope.defer(() => second.destroy());
      await proxy.waitForConnection(2);
      proxy.limitBytes = 0;
      await second.closed();
      expect(second.text).toBe('');
    });
  });

  describe('slicer', () => {
    it('delivers N-byte slices with a pause between them, every byte in order', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.downstream.set({ sliced: true, sliceBytes: 3, sliceDelayMillis: 2 });
      const start = performance.now();
      upstream.write('abcdefghijk'); // 4 slices, 3 pauses of 2 ms
      await client.received(11);
      expect(client.text).toBe('abcdefghijk');
      expect(client.chunks.length).toBeGreaterThan(1);
      expect(client.arrivals.at(-1)! - start).toBeGreaterThanOrEqual(6);
    });

    it('slices 1 byte at a time by default (sliced = true), switched on a live connection', async () => {
      const { proxy, client, upstream } = await setup();
      upstream.write('x');
      await client.received(1);
      proxy.sliced = true;
      expect(proxy.downstream.sliceBytes).toBe(1);
      proxy.sliceDelayMillis = 1;
      upstream.write('sliced');
      await client.received(7);
      expect(client.text).toBe('xsliced');
      expect(client.chunks.length).toBeGreaterThan(2);
    });

    it('keeps byte order in both directions under slicer + latency + jitter, over many writes', async () => {
      const { proxy, client } = await setup(echo);
      proxy.set({ sliced: true, sliceBytes: 7, latencyMillis: 2, jitterMillis: 2 });
      proxy.downstream.sliceBytes = 5;
      const sent = pattern(6000);
      for (let i = 0; i < sent.length; i += 500) client.write(sent.subarray(i, i + 500));
      await client.received(sent.length);
      expect(client.data.equals(sent)).toBe(true);
      expect(proxy.stats().downstream).toEqual({ readBytes: 6000, deliveredBytes: 6000, queuedBytes: 0 });
    });
  });

  describe('reset', () => {
    it('resetPeers(): the client sees ECONNRESET and the server side is closed', async () => {
      const { proxy, client, upstream } = await setup();
      client.write('in flight');
      await upstream.received(9);
      await proxy.resetPeers();
      await client.closed();
      expect(client.error?.code).toBe('ECONNRESET');
      await upstream.closed();
      expect(proxy.connections).toBe(0);
    });

    it('resetPeers() just as a held FIN is delivered (the client socket mid-shutdown): resolves, and close() leaves nothing', async () => {
      const { proxy, client, upstream } = await setup();
      proxy.downstream.stalled = true;
      upstream.socket.end('bye\n');
      await queued(proxy, 0, 4);
      // The server's FIN is held behind its bytes (queued as a null chunk): wait until the proxy has read it.
      const links = (proxy as unknown as { links: Set<{ downstream: { queue: { chunk: Buffer | null }[] } }> }).links;
      for (
        let turn = 0;
        ![...links].some((link) => link.downstream.queue.some((item) => item.chunk === null));
        turn++
      ) {
        if (turn > 10_000) throw new Error('the FIN never reached the proxy');
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      proxy.downstream.stalled = false; // delivers the bytes and the FIN: end() on the client socket, shutdown pending
      expect(await within(proxy.resetPeers(), 2000)).toBe(true); // in the same tick: the reset meets that shutdown
      expect(await within(proxy.close(), 2000)).toBe(true);
      expect(proxy.connections).toBe(0);
      await client.closed();
    });

    it('close() after limitBytes was reached toward a client that does not read: resolves, and nothing is left', async () => {
      const size = 48 * 1024 * 1024; // far above loopback socket buffers
      const server = await TestServer.start({ handler: (socket) => socket.write(Buffer.alloc(size, 0x61)) });
      scope.defer(() => server.stop());
      const proxy = await FaultProxy.start(server.endpoint);
      scope.defer(() => proxy.close());
      proxy.downstream.stalled = true;
      const client = net.connect(proxy.endpoint);
      client.on('error', () => undefined);
      client.pause(); // never reads
      scope.defer(() => client.destroy());
      await until(proxy, 'read', () => proxy.stats().downstream.readBytes === size);
      proxy.downstream.limitBytes = size - 8 * 1024 * 1024;
      proxy.downstream.stalled = false; // writes up to the limit, then ends the client socket: a flush that never completes
      expect(await within(proxy.close(), 2000)).toBe(true);
      expect(proxy.connections).toBe(0);
    });

    it('resetting: open connections and new ones are reset until heal()', async () => {
      const { proxy, client } = await setup();
      proxy.resetting = true;
      await client.closed();
      expect(client.error?.code).toBe('ECONNRESET');

      // The RST may come before or after the client sees its connect complete: either way, a reset.
      const refusedByReset = new Peer(net.connect(proxy.endpoint));
      await refusedByReset.closed();
      expect(refusedByReset.error?.code).toBe('ECONNRESET');
      expect(proxy.accepted).toBe(2);

      proxy.heal();
      expect(proxy.resetting).toBe(false);
      const healthy = await Peer.connect(proxy.endpoint);
      scope.defer(() => healthy.destroy());
      await proxy.waitForConnection(3);
      healthy.write('ok');
      await until(proxy, 'read', () => proxy.stats().upstream.deliveredBytes === 2);
    });

    it('a client whose server refuses is reset (ECONNRESET), and the proxy keeps serving', async () => {
      const proxy = await FaultProxy.start({ host: '127.0.0.1', port: await refusedPort() });
      scope.defer(() => proxy.close());
      const client = await Peer.connect(proxy.endpoint);
      await client.closed();
      expect(client.error?.code).toBe('ECONNRESET');
      expect([proxy.listening, proxy.connections]).toEqual([true, 0]);
    });

    it('a reset by the server reaches the client as a reset', async () => {
      const { client, upstream } = await setup();
      upstream.socket.resetAndDestroy();
      await client.closed();
      expect(client.error?.code).toBe('ECONNRESET');
    });
  });

  describe('down and up', () => {
    it('down() closes the listener and every connection; up() listens again on the same port', async () => {
      const { proxy, client, upstream } = await setup();
      const port = proxy.port;
      await proxy.down();
      expect([proxy.listening, proxy.connections]).toEqual([false, 0]);
      await client.closed();
      await upstream.closed();
      expect(client.error).toBeUndefined(); // a FIN, as from a server going away
      await expect(Peer.connect(proxy.endpoint)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await proxy.down(); // twice is harmless

      await proxy.up();
      await proxy.up(); // so is this
      expect([proxy.listening, proxy.port]).toEqual([true, port]);
      const again = await Peer.connect(proxy.endpoint);
      scope.defer(() => again.destroy());
      await proxy.waitForConnection(2);
      again.write('back');
      await until(proxy, 'read', () => proxy.stats().upstream.deliveredBytes === 4);
    });
  });

  it('passes TLS through untouched (the proxy forwards bytes), toxics included', async () => {
    const server = await TestServer.start({ tls: selfSigned });
    scope.defer(() => server.stop());
    const proxy = await FaultProxy.start(server.endpoint);
    scope.defer(() => proxy.close());
    proxy.set({ sliced: true, sliceBytes: 5, latencyMillis: 1 });
    const socket = tls.connect({ ...proxy.endpoint, ca: selfSigned.cert, servername: 'localhost' });
    const client = new Peer(socket);
    scope.defer(() => client.destroy());
    await next(socket, 'secureConnect');
    socket.write('secret over tls');
    await client.received(15);
    expect(client.text).toBe('secret over tls');
  });

  it('passes a FIN on after the bytes queued before it (a last reply, then end, under latency)', async () => {
    const { proxy, client, upstream } = await setup();
    proxy.downstream.latencyMillis = 30;
    upstream.socket.end('goodbye');
    await client.closed();
    expect(client.text).toBe('goodbye');
    expect(client.gotEnd).toBe(true);
    expect(client.error).toBeUndefined();
  });

  it('close() with bytes held, delayed and mid-slice leaves no socket, server or timer behind', async () => {
    const { proxy, client, upstream } = await setup();
    proxy.upstream.stalled = true;
    proxy.downstream.set({ sliced: true, sliceBytes: 1, sliceDelayMillis: 50, latencyMillis: 10 });
    client.write('held');
    upstream.write('slowly');
    await client.received(1);
    upstream.write('later');
    await queued(proxy, 4, 10);
    await proxy.close();
    expect(proxy.stats()).toMatchObject({ listening: false, connections: 0 });
    await client.closed();
    // useScope() checks, after the test, that nothing is left.
  });

  describe('options', () => {
    it('listens on loopback only: a non-loopback host is refused with ERR_INVALID_OPTIONS naming host', async () => {
      for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:127.0.0.1', '']) {
        await expect(FaultProxy.start({ host: '127.0.0.1', port: 1 }, { host })).rejects.toMatchObject({
          code: 'ERR_INVALID_OPTIONS',
          message: expect.stringContaining("'host'"),
        });
      }
    });

    it('listens on ::1 and on localhost when asked', async () => {
      const server = await TestServer.start({ host: '::1' });
      scope.defer(() => server.stop());
      const proxy = await FaultProxy.start(server.endpoint, { host: '::1' });
      scope.defer(() => proxy.close());
      expect(proxy.endpoint.host).toBe('::1');
      const client = await Peer.connect(proxy.endpoint);
      scope.defer(() => client.destroy());
      client.write('v6');
      await client.received(2);
      const local = await FaultProxy.start(server.endpoint, { host: 'localhost' });
      scope.defer(() => local.close());
      expect(local.host).toBe('127.0.0.1');
    });

    it('checks target and options up front, naming the option', async () => {
      await expect(FaultProxy.start({ host: '127.0.0.1', port: 0 })).rejects.toThrow("'target.port'");
      await expect(FaultProxy.start({ host: '', port: 80 })).rejects.toThrow("'target.host'");
      await expect(FaultProxy.start(null as never)).rejects.toThrow("'target'");
      await expect(FaultProxy.start({ host: '127.0.0.1', port: 80 }, { port: 70000 })).rejects.toThrow("'port'");
      await expect(FaultProxy.start({ host: '127.0.0.1', port: 80 }, { latency: 5 } as never)).rejects.toThrow(
        "Unknown option 'latency'",
      );
      await expect(FaultProxy.start({ host: '127.0.0.1', port: 80 }, { random: 1 } as never)).rejects.toThrow(
        "'random'",
      );
    });

    it('checks every toxic value, naming it, and changes nothing on a bad set()', async () => {
      const { proxy } = await setup();
      invalidOptions(() => (proxy.latencyMillis = -1), 'latencyMillis');
      invalidOptions(() => (proxy.jitterMillis = Number.NaN), 'jitterMillis');
      invalidOptions(() => (proxy.downstream.limitBytes = 1.5), 'downstream.limitBytes');
      invalidOptions(() => (proxy.upstream.sliceBytes = 0), 'upstream.sliceBytes');
      invalidOptions(() => (proxy.stalled = 'yes' as never), 'stalled');
      invalidOptions(() => (proxy.resetting = 1 as never), 'resetting');
      invalidOptions(
        () => proxy.downstream.set({ latencyMillis: 5, sliceDelayMillis: -2 }),
        'downstream.sliceDelayMillis',
      );
      expect(proxy.downstream.latencyMillis).toBe(0);
      expect(() => proxy.set({ lag: 1 } as never)).toThrow("Unknown option 'lag'");
      expect(proxy.upstream.settings()).toEqual({
        latencyMillis: 0,
        jitterMillis: 0,
        stalled: false,
        limitBytes: Infinity,
        sliced: false,
        sliceBytes: 1,
        sliceDelayMillis: 0,
      });
    });
  });

  it('passes a client half-close on: an echo server answers, then both sides close', async () => {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const proxy = await FaultProxy.start(server.endpoint);
    scope.defer(() => proxy.close());
    const socket = net.connect(proxy.endpoint);
    socket.end('echo me');
    const [data] = await next<[Buffer]>(socket, 'data');
    expect(String(data)).toBe('echo me');
    await next(socket, 'close');
  });
});
