// examples/testing/toxics.spec.ts
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import * as net from 'node:net';
import { FaultProxy, TestServer, replyLines } from 'nestjs-connman/testing';

describe('FaultProxy, toxic by toxic', () => {
  let server: TestServer;
  let proxy: FaultProxy;
  let client: net.Socket;

  beforeEach(async () => {
    server = await TestServer.start({ handler: replyLines({ PING: '+PONG\r\n' }) });
    proxy = await FaultProxy.start(server.endpoint); // listens on 127.0.0.1, on a free port
    client = net.connect(proxy.endpoint);
    client.on('error', () => undefined); // some tests below make it fail on purpose
    await once(client, 'connect');
  });

  afterEach(async () => {
    client.destroy();
    await proxy.close(); // no socket, server or timer left
    await server.stop();
  });

  /** Sends PING; resolves with the reply and how long it took, in ms. */
  async function ping(): Promise<{ reply: string; millis: number }> {
    const start = performance.now();
    let reply = '';
    client.write('PING\r\n');
    while (!reply.endsWith('\r\n')) reply += String((await once(client, 'data'))[0]);
    return { reply, millis: performance.now() - start };
  }

  it('latency, with jitter', async () => {
    proxy.latencyMillis = 50; // both directions: a round trip takes at least 100 ms
    expect((await ping()).millis).toBeGreaterThanOrEqual(100);

    proxy.heal();
    proxy.downstream.set({ latencyMillis: 40, jitterMillis: 30 }); // replies 10 to 70 ms late
    expect((await ping()).millis).toBeGreaterThanOrEqual(10);
  });

  it('stall: bytes held until heal()', async () => {
    proxy.upstream.stalled = true; // requests are held, the connection stays open (a zombie peer)
    const reply = ping();
    await once(proxy, 'read'); // the request has reached the proxy, and is held there
    expect(proxy.stats().upstream.queuedBytes).toBe(6);
    proxy.heal(); // what was held goes through, in order
    expect((await reply).reply).toBe('+PONG\r\n');
  });

  it('limit: close after N bytes', async () => {
    proxy.downstream.limitBytes = 3; // the client gets 3 bytes, then the connection is closed
    client.write('PING\r\n');
    const [partial] = await once(client, 'data');
    expect(String(partial)).toBe('+PO');
    await once(client, 'close');
  });

  it('slicer: small chunks, with a pause between them', async () => {
    proxy.downstream.set({ sliced: true, sliceBytes: 2, sliceDelayMillis: 1 }); // 2-byte chunks, 1 ms apart
    const chunks: string[] = [];
    client.on('data', (chunk) => chunks.push(String(chunk)));
    expect((await ping()).reply).toBe('+PONG\r\n');
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('reset: an RST to every client', async () => {
    const failed = once(client, 'error');
    await proxy.resetPeers(); // or `proxy.resetting = true` to reset new connections too, until heal()
    const [error] = await failed;
    expect(error.code).toBe('ECONNRESET');
  });

  it('down and up: the address goes away, then comes back on the same port', async () => {
    await proxy.down(); // listener and every connection closed
    await once(client, 'close');
    const refused = net.connect(proxy.endpoint);
    const [error] = await once(refused, 'error');
    expect(error.code).toBe('ECONNREFUSED');

    await proxy.up(); // same port
    client = net.connect(proxy.endpoint);
    await proxy.waitForConnection(2); // the 2nd connection since the start
    expect((await ping()).reply).toBe('+PONG\r\n');
  });

  it('every toxic switches on and off on open connections', async () => {
    expect((await ping()).reply).toBe('+PONG\r\n');
    proxy.set({ latencyMillis: 20, sliced: true }); // the same connection, now slow and sliced
    expect((await ping()).millis).toBeGreaterThanOrEqual(40);
    proxy.heal();
    expect((await ping()).reply).toBe('+PONG\r\n');
  });
});
