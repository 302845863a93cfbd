import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import {
  ConnectionPool,
  ConnmanError,
  PersistentConnection,
  lengthPrefixed,
  lines,
  type FrameDecoder,
} from '../../lib/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { next, until } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';

const quick = { backoff: { initialDelayMillis: 20, maxDelayMillis: 40 } } as const;

/** A server that writes `payload` to each connection as soon as it is accepted. */
function sends(payload: string | Buffer): (socket: Socket) => void {
  return (socket) => void socket.write(payload);
}

describe('framing on a connection', () => {
  const scope = useScope();

  async function server(handler: (socket: Socket) => void): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }

  it('delivers whole frames to onData and the frame event when the stream comes in 1-byte chunks', async () => {
    const stream = 'alpha\nbeta\r\n\ngamma delta\n';
    const upstream = await server(sends(stream));
    const proxy = await FaultProxy.start(upstream.endpoint);
    scope.defer(() => proxy.close());
    proxy.sliced = true;
    const frames: string[] = [];
    const events: string[] = [];
    const chunks: Buffer[] = [];
    const conn = new PersistentConnection(
      proxy.endpoint,
      { onData: (frame) => void frames.push(frame.toString()) },
      { ...quick, framing: lines() },
    );
    scope.defer(() => conn.disconnect());
    conn.on('frame', (frame) => void events.push(frame.toString()));
    conn.on('data', (chunk) => void chunks.push(chunk));
    conn.connect();
    await until(conn, 'frame', () => frames.length === 4);
    expect(frames).toEqual(['alpha', 'beta', '', 'gamma delta']);
    expect(events).toEqual(frames);
    // The data event keeps the raw chunks.
    expect(Buffer.concat(chunks).toString()).toBe(stream);
    expect(chunks.length).toBeGreaterThan(4);
  });

  it('delivers every frame of a coalesced chunk, in order, one call each', async () => {
    const body = Buffer.concat(
      ['one', 'two', '', 'three'].map((s) => {
        const header = Buffer.alloc(2);
        header.writeUInt16BE(s.length);
        return Buffer.concat([header, Buffer.from(s)]);
      }),
    );
    const upstream = await server(sends(body));
    const frames: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame) => void frames.push(frame.toString()) },
      { ...quick, framing: lengthPrefixed({ lengthBytes: 2 }) },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    await until(conn, 'frame', () => frames.length === 4);
    expect(frames).toEqual(['one', 'two', '', 'three']);
  });

  it('a frame over maxFrameBytes resets with ERR_PROTOCOL; no partial frame reaches a handler; it reconnects', async () => {
    let connections = 0;
    const upstream = await server((socket) => {
      connections++;
      socket.write(connections === 1 ? `ok\n${'x'.repeat(5000)}` : 'fine\n');
    });
    const frames: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame) => void frames.push(frame.toString()) },
      { ...quick, framing: lines({ maxFrameBytes: 1024 }) },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    const [error] = (await next(conn, 'reset')) as [ConnmanError];
    expect(error.code).toBe('ERR_PROTOCOL');
    expect((error.cause as ConnmanError).code).toBe('ERR_PROTOCOL');
    expect(error.message).toContain(`127.0.0.1:${upstream.port}`);
    await next(conn, 'reconnect');
    await until(conn, 'frame', () => frames.includes('fine'));
    // 'ok' came whole before the broken frame (it may or may not be delivered,
    // depending on the chunking); no piece of the over-long frame ever is.
    expect(frames.filter((f) => f !== 'ok')).toEqual(['fine']);
  });

  it('a decoder that throws resets with ERR_PROTOCOL (cause: its error); a new decoder serves the reconnection', async () => {
    let made = 0;
    const upstream = await server(sends('data\n'));
    const frames: string[] = [];
    const framing = (): FrameDecoder<string> => {
      const n = ++made;
      return {
        decode(chunk) {
          if (n === 1) throw new Error('corrupt stream');
          return [`#${n}:${chunk.toString().trim()}`];
        },
      };
    };
    const conn = new PersistentConnection<string>(
      upstream.endpoint,
      { onData: (frame) => void frames.push(frame) },
      { ...quick, framing },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    const [error] = (await next(conn, 'reset')) as [ConnmanError];
    expect(error.code).toBe('ERR_PROTOCOL');
    expect((error.cause as Error).message).toBe('corrupt stream');
    await until(conn, 'frame', () => frames.length === 1);
    expect(frames).toEqual(['#2:data']);
  });

  it('restarts the decoder on reconnect: a partial frame before a reset is never glued to new bytes', async () => {
    let connections = 0;
    const upstream = await server((socket) => {
      connections++;
      if (connections === 1) {
        socket.write('partial-without-end');
        setImmediate(() => socket.resetAndDestroy());
      } else {
        socket.write('whole\n');
      }
    });
    const frames: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame) => void frames.push(frame.toString()) },
      { ...quick, framing: lines() },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    await next(conn, 'reconnect');
    await until(conn, 'frame', () => frames.length === 1);
    expect(frames).toEqual(['whole']);
  });

  it('a framing factory that throws fails the attempt with ERR_PROTOCOL and backs off', async () => {
    const upstream = await server(sends('x\n'));
    const conn = new PersistentConnection(upstream.endpoint, undefined, {
      ...quick,
      framing: () => {
        throw new Error('no decoder');
      },
    });
    scope.defer(() => conn.disconnect());
    const [error] = (await next(conn.connect(), 'connectError')) as [ConnmanError];
    expect(error.code).toBe('ERR_PROTOCOL');
    expect(conn.connected).toBe(false);
  });

  it('routes frames to @OnData-style pool handlers, one call per frame', async () => {
    const upstream = await server(sends('a\nb\nc\n'));
    const frames: string[] = [];
    const p = new ConnectionPool({ name: 'frames', ...upstream.endpoint, ...quick, framing: lines(), min: 1 });
    scope.defer(() => p.close({ timeoutMillis: 0 }));
    const remove = p.addHandlers({ onData: (frame, context) => void frames.push(`${context.pool}:${frame}`) });
    await p.open();
    await until(p.connections[0], 'frame', () => frames.length === 3);
    expect(frames).toEqual(['frames:a', 'frames:b', 'frames:c']);
    remove();
  });
});
