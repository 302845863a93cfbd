/**
 * Adversarial review: which caller a frame goes to. A reply answers the
 * request it was written for, never one written after the frame arrived; a
 * frame reaches onData only while its socket is live.
 *
 * Tests in this file that fail today show bugs in lib/core (see the report
 * of the review branch); they are kept failing on purpose until lib/core is
 * fixed.
 */
import { describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { ConnectionPool, PersistentConnection, lines, type Lease } from '../../lib/index.js';
import { next, until } from '../helpers/events.js';
import { lineHandler } from '../helpers/line-server.js';
import { flushIo, useScope } from '../helpers/resources.js';
import { TestServer, type SocketHandler } from '../helpers/server.js';
import { eventually, outcome, quick } from './review-helpers.js';

describe('review: reply routing', () => {
  const scope = useScope();

  async function server(handler: SocketHandler): Promise<TestServer> {
    const s = await TestServer.start({ handler });
    scope.defer(() => s.stop());
    return s;
  }

  /** Answers every line `q` with `answer:q`. */
  const answering = lineHandler((line, socket) => socket.write(`answer:${line}\n`));

  it('a request made in onData is answered by its own reply, never by a frame of the same chunk that arrived before it was written', async () => {
    // Two pushes in one write (one chunk on loopback); the handler answers the first with a request.
    const upstream = await server((socket, count) => {
      socket.write('push1\npush2\n');
      answering(socket, count);
    });
    const pushes: string[] = [];
    let reply: Promise<string> | undefined;
    const conn: PersistentConnection = new PersistentConnection(
      upstream.endpoint,
      {
        onData: (frame: Buffer) => {
          pushes.push(frame.toString());
          reply ??= outcome(conn.request('q\n'));
        },
      },
      { ...quick, framing: lines() },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    await until(conn, 'frame', () => reply !== undefined);
    // push2 arrived while no request was unanswered: it is a push (SPEC), and the request's reply is 'answer:q'.
    expect(await reply).toBe('ok:answer:q');
    await until(conn, 'frame', () => pushes.length >= 2);
    expect(pushes).toEqual(['push1', 'push2']);
  });

  it('a request made in onConnect is answered by its own reply, never by a frame left over from the handshake', async () => {
    // The greeting comes with a banner line that the handshake does not read.
    const upstream = await server((socket, count) => {
      socket.write('hello\nbanner\n');
      answering(socket, count);
    });
    const pushes: string[] = [];
    let reply: Promise<string> | undefined;
    const conn: PersistentConnection = new PersistentConnection(
      upstream.endpoint,
      {
        onConnect: () => {
          reply = outcome(conn.request('q\n'));
        },
        onData: (frame: Buffer) => {
          pushes.push(frame.toString());
        },
      },
      {
        ...quick,
        framing: lines(),
        handshake: async (_socket, context) => {
          expect((await context.read()).toString()).toBe('hello');
        },
      },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    await next(conn, 'connect');
    expect(await reply).toBe('ok:answer:q');
    // The banner arrived before any request was written: it goes to onData.
    await eventually(() => pushes.length >= 1);
    expect(pushes).toEqual(['banner']);
  });

  it('a lease released in onData never lets a queued pool request be answered by a frame read before the request was written', async () => {
    // The leased socket asks for two pushes; they come in one chunk.
    const upstream = await server(
      lineHandler((line, socket) => {
        if (line === 'two') socket.write('push1\npush2\n');
        else socket.write(`answer:${line}\n`);
      }),
    );
    const borrowed: { lease?: Lease } = {};
    const pushes: string[] = [];
    const pool = new ConnectionPool({
      name: 'review-release-in-ondata',
      ...upstream.endpoint,
      ...quick,
      min: 1,
      max: 1,
      framing: lines(),
      callbacks: {
        onData: (frame: Buffer) => {
          pushes.push(frame.toString());
          if (borrowed.lease !== undefined && !borrowed.lease.released) borrowed.lease.release();
        },
      },
    });
    scope.defer(() => pool.close({ timeoutMillis: 0 }));
    await pool.open();
    const lease = await pool.acquire();
    borrowed.lease = lease;
    // The only connection is leased: the request waits for it.
    const reply = outcome(pool.request('q\n', { timeoutMillis: 2000 }));
    await flushIo();
    expect(pool.stats().waitingRequests).toBe(1);
    lease.socket.write('two\n');
    expect(await reply).toBe('ok:answer:q');
    await eventually(() => pushes.length >= 2);
    expect(pushes).toEqual(['push1', 'push2']);
  });

  it('onData never runs after disconnect(), even when a data listener disconnects in the middle of a chunk', async () => {
    const upstream = await server((socket) => socket.write('a\nb\n'));
    const calls: string[] = [];
    const conn: PersistentConnection = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame: Buffer) => void calls.push(`${frame.toString()} (${conn.state})`) },
      { ...quick, framing: lines() },
    );
    conn.on('data', () => void conn.disconnect());
    conn.connect();
    await next(conn, 'close');
    await flushIo();
    // SPEC: "No callback runs after it."
    expect(calls).toEqual([]);
  });

  it('no frame of a socket that was reset reaches onData after onReset ran for it', async () => {
    const upstream = await server((socket) => socket.write('a\nb\n'));
    const calls: string[] = [];
    let first = true;
    const conn: PersistentConnection = new PersistentConnection(
      upstream.endpoint,
      {
        onData: (frame: Buffer) => void calls.push(`onData:${frame.toString()}`),
        onReset: () => void calls.push('onReset'),
        onReconnect: () => void calls.push('onReconnect'),
      },
      { ...quick, framing: lines() },
    );
    scope.defer(() => conn.disconnect());
    conn.on('data', () => {
      if (!first) return;
      first = false;
      conn.reset();
    });
    conn.connect();
    await next(conn, 'reconnect');
    // After the reset, only frames of the new socket may follow.
    const afterReset = calls.slice(calls.indexOf('onReset') + 1);
    expect(afterReset[0]).toBe('onReconnect');
  });

  it('a decoder that throws while iterating a chunk lets no frame of that chunk reach a handler', async () => {
    const upstream = await server((socket) => socket.write('a\nb\nBAD\n'));
    const frames: string[] = [];
    const conn = new PersistentConnection<string>(
      upstream.endpoint,
      { onData: (frame) => void frames.push(frame) },
      {
        ...quick,
        // A lazy decoder (a generator): frames are produced while they are routed.
        framing: () => ({
          *decode(chunk: Buffer): Generator<string> {
            for (const line of chunk.toString().split('\n')) {
              if (line === '') continue;
              if (line === 'BAD') throw new Error('a byte that cannot start a frame');
              yield line;
            }
          },
        }),
      },
    );
    scope.defer(() => conn.disconnect());
    conn.connect();
    const [error] = await next<[Error & { code?: string }]>(conn, 'reset');
    expect(error.code).toBe('ERR_PROTOCOL');
    // SPEC: "nothing of a broken stream reaches a handler" (the built-in decoders drop the whole chunk).
    expect(frames).toEqual([]);
  });

  it('holds: a heartbeat probe in flight and a request written after it each get their own reply', async () => {
    let held: Socket | undefined;
    const upstream = await server(
      lineHandler((line, socket) => {
        if (line === 'ping')
          held = socket; // answered later, in order
        else {
          if (held === socket) socket.write('pong\n');
          held = undefined;
          socket.write(`answer:${line}\n`);
        }
      }),
    );
    const pushes: string[] = [];
    const conn = new PersistentConnection(
      upstream.endpoint,
      { onData: (frame: Buffer) => void pushes.push(frame.toString()) },
      { ...quick, framing: lines(), heartbeat: { intervalMillis: 30, timeoutMillis: 2000, payload: 'ping\n' } },
    );
    scope.defer(() => conn.disconnect());
    await conn.waitUntilConnected();
    await eventually(() => held !== undefined);
    expect(conn.pendingRequests).toBe(1);
    expect(await outcome(conn.request('q\n'))).toBe('ok:answer:q');
    expect(pushes).toEqual([]);
  });
});
