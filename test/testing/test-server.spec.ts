import { describe, expect, it } from '@jest/globals';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { TestServer, refusedPort, replyLines, silent } from 'nestjs-connman/testing';
import { next } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { selfSigned } from '../helpers/tls.js';
import { Peer } from './peer.js';

describe('TestServer', () => {
  const scope = useScope();

  async function start(...args: Parameters<typeof TestServer.start>): Promise<TestServer> {
    const server = await TestServer.start(...args);
    scope.defer(() => server.stop());
    return server;
  }

  async function connect(server: TestServer): Promise<Peer> {
    const peer = await Peer.connect(server.endpoint);
    scope.defer(() => peer.destroy());
    return peer;
  }

  it('listens on a free loopback port and echoes by default', async () => {
    const server = await start();
    expect(server.endpoint).toEqual({ host: '127.0.0.1', port: server.port });
    expect([server.port > 0, server.listening]).toEqual([true, true]);
    const client = await connect(server);
    client.write('echo?');
    await client.received(5);
    expect(client.text).toBe('echo?');
    expect([server.accepted, server.connections, server.sockets.size]).toEqual([1, 1, 1]);
  });

  describe('replyLines', () => {
    it('answers the scripted lines in order, with \\r\\n or \\n, split across chunks, and ignores the others', async () => {
      const server = await start({
        handler: replyLines({ PING: '+PONG\r\n', version: 'VERSION 1.6.21\r\n', now: () => 'TICK\r\n' }),
      });
      const client = await connect(server);
      client.write('PI');
      client.write('NG\r\nunknown\r\nversion\n');
      client.write('now\r\nPING\r\n');
      await client.received(7 + 16 + 6 + 7);
      expect(client.text).toBe('+PONG\r\nVERSION 1.6.21\r\nTICK\r\n+PONG\r\n');
    });

    it('takes a function of the line (and the socket), and another delimiter', async () => {
      const server = await start({
        handler: replyLines(
          (line, socket) => {
            if (line === 'quit') socket.end();
            return line.startsWith('get ') ? `VALUE ${line.slice(4)};` : undefined;
          },
          { delimiter: ';' },
        ),
      });
      const client = await connect(server);
      client.write('get a;set b;get é;quit;');
      await client.closed();
      expect(client.data.toString('utf8')).toBe('VALUE a;VALUE é;');
    });

    it('refuses a script or delimiter that cannot work, naming it', () => {
      expect(() => replyLines(42 as never)).toThrow("'script'");
      expect(() => replyLines({}, { delimiter: '' })).toThrow("'delimiter'");
      expect(() => replyLines({}, { eol: '\n' } as never)).toThrow("Unknown option 'eol'");
    });
  });

  it('gives the handler the connection count, and a new handler applies to new connections', async () => {
    const seen: number[] = [];
    const server = await start({
      handler: (socket, count) => {
        seen.push(count);
        socket.end(`you are #${count}`);
      },
    });
    const first = await connect(server);
    await first.closed();
    server.handler = (socket) => socket.end('changed');
    const second = await connect(server);
    await second.closed();
    expect([first.text, second.text, seen]).toEqual(['you are #1', 'changed', [1]]);
  });

  it('nextConnection() gives connections already accepted first, then waits; waitForConnection and the connection event', async () => {
    const server = await start({ handler: silent });
    const counts: number[] = [];
    server.on('connection', (_socket, count) => counts.push(count));
    const waitForSecond = server.waitForConnection(2);
    await connect(server);
    await server.waitForConnection(1);
    const first = await server.nextConnection();
    const pending = server.nextConnection();
    const client = await connect(server);
    const second = await pending;
    await waitForSecond;
    expect(first).not.toBe(second);
    expect(counts).toEqual([1, 2]);
    client.write('to the second');
    const [chunk] = await next<[Buffer]>(second, 'data');
    expect(String(chunk)).toBe('to the second');
  });

  it('a wait given a signal rejects with its reason when aborted', async () => {
    const server = await start();
    const controller = new AbortController();
    const next = server.nextConnection({ signal: controller.signal });
    const nth = server.waitForConnection(3, { signal: controller.signal });
    controller.abort(new Error('no more'));
    await expect(next).rejects.toThrow('no more');
    await expect(nth).rejects.toThrow('no more');
    expect(() => server.waitForConnection(-1)).toThrow("'count'");
  });

  it('resetAll() sends an RST: the client sees ECONNRESET', async () => {
    const server = await start({ handler: silent });
    const client = await connect(server);
    await server.waitForConnection(1);
    await server.resetAll();
    await client.closed();
    expect(client.error?.code).toBe('ECONNRESET');
    expect(server.connections).toBe(0);
  });

  it('stop() closes every connection and refuses new ones; restart() and listen() come back on the same port', async () => {
    const server = await start({ handler: silent });
    const port = server.port;
    const client = await connect(server);
    await server.waitForConnection(1);
    await server.stop();
    await client.closed();
    expect([server.listening, server.connections]).toEqual([false, 0]);
    await expect(Peer.connect(server.endpoint)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await server.stop(); // twice is harmless

    await server.listen();
    expect([server.listening, server.port]).toEqual([true, port]);
    await connect(server);
    await server.waitForConnection(2);
    await server.restart();
    expect(server.port).toBe(port);
    await connect(server);
    await server.waitForConnection(3);
    expect(server.accepted).toBe(3);
  });

  it('serves TLS, and stop() also closes a connection still in its TLS handshake', async () => {
    const server = await start({ tls: selfSigned });
    const secure = tls.connect({ ...server.endpoint, ca: selfSigned.cert, servername: 'localhost' });
    const peer = new Peer(secure);
    scope.defer(() => peer.destroy());
    await next(secure, 'secureConnect');
    secure.write('over tls');
    await peer.received(8);
    expect(peer.text).toBe('over tls');
    // A plain TCP client never starts its handshake: the server holds a socket that is not yet a TLS one.
    const stuck = new Peer(net.connect(server.endpoint));
    scope.defer(() => stuck.destroy());
    await next(stuck.socket, 'connect');
    await server.stop();
    await stuck.closed();
    await peer.closed();
    expect(server.accepted).toBe(1);
  });

  it('resetAll() resets TLS connections too', async () => {
    const server = await start({ tls: selfSigned });
    const secure = tls.connect({ ...server.endpoint, ca: selfSigned.cert, servername: 'localhost' });
    const peer = new Peer(secure);
    scope.defer(() => peer.destroy());
    await next(secure, 'secureConnect');
    await server.waitForConnection(1);
    await server.resetAll();
    await peer.closed();
    expect(peer.error?.code).toBe('ECONNRESET');
    expect(server.connections).toBe(0);
  });

  it('listens on loopback only, and checks its options up front, naming them', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      await expect(TestServer.start({ host })).rejects.toMatchObject({
        code: 'ERR_INVALID_OPTIONS',
        message: expect.stringContaining("'host'"),
      });
    }
    await expect(TestServer.start({ port: -1 })).rejects.toThrow("'port'");
    await expect(TestServer.start({ handler: 'echo' as never })).rejects.toThrow("'handler'");
    await expect(TestServer.start({ allowHalfOpen: 1 as never })).rejects.toThrow("'allowHalfOpen'");
    await expect(TestServer.start({ hots: '127.0.0.1' } as never)).rejects.toThrow("Unknown option 'hots'");
  });

  it('refusedPort() gives a loopback port where connecting is refused', async () => {
    const port = await refusedPort();
    await expect(Peer.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(refusedPort('0.0.0.0')).rejects.toThrow("'host'");
  });
});
