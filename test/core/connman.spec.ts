import { describe, expect, it } from '@jest/globals';
import { ConnectionPool, Connman, ConnmanError } from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';

describe('Connman registry', () => {
  const scope = useScope();

  async function setup(): Promise<{ cm: Connman; upstream: TestServer }> {
    const upstream = await TestServer.start();
    const cm = new Connman();
    scope.defer(() => upstream.stop());
    scope.defer(() => cm.disconnectAll({ timeoutMillis: 0 }));
    return { cm, upstream };
  }

  it('creates, finds and closes named pools; a duplicate name is ERR_DUPLICATE_POOL', async () => {
    const { cm, upstream } = await setup();
    const pool = cm.createPool('apns', { ...upstream.endpoint, min: 1 });
    expect(pool).toBeInstanceOf(ConnectionPool);
    expect(cm.getPool('apns')).toBe(pool);
    expect(() => cm.createPool('apns')).toThrow(expect.objectContaining({ code: 'ERR_DUPLICATE_POOL', pool: 'apns' }));
    await pool.open();
    await cm.disconnect('apns');
    expect(pool.state).toBe('closed');
    expect(cm.hasPool('apns')).toBe(false);
  });

  it('names the registered pools when a name is unknown', async () => {
    const { cm } = await setup();
    cm.createPool('a');
    cm.createPool('b');
    let error: ConnmanError | undefined;
    try {
      cm.getPool('c');
    } catch (e) {
      error = e as ConnmanError;
    }
    expect(error?.code).toBe('ERR_UNKNOWN_POOL');
    expect(error?.message).toBe("No pool named 'c'; registered pools: 'a', 'b'.");
  });

  it('connect() opens a single persistent connection at once, found by getConnection()', async () => {
    const { cm, upstream } = await setup();
    const received: string[] = [];
    const conn = cm.connect(upstream.endpoint, {
      onConnect: (socket) => void socket.write('hello'),
      onData: (data) => void received.push(String(data)),
      onReset: () => undefined,
    });
    await next(conn, 'data');
    expect(received.join('')).toBe('hello');
    expect(cm.getConnection(upstream.port, '127.0.0.1')).toBe(conn);
    expect(cm.getConnection(upstream.port)).toBe(conn);
    await cm.disconnect(conn);
    expect(conn.state).toBe('closed');
    expect(cm.getConnection(upstream.port)).toBeUndefined();
  });

  it("finds a pool's connection with getConnection(), connman style (createPool + addConnection)", async () => {
    const { cm, upstream } = await setup();
    const pool = cm.createPool('myPool');
    const conn = pool.addConnection(upstream.endpoint);
    await conn.waitUntilConnected();
    expect(cm.getConnection(upstream.port)).toBe(conn);
  });

  it('disconnectAll() ends every connection and pool; nothing reconnects', async () => {
    const { cm, upstream } = await setup();
    const single = cm.connect(upstream.endpoint);
    const pool = cm.createPool('p', { ...upstream.endpoint, min: 2 });
    await Promise.all([single.waitUntilConnected(), pool.open()]);
    const accepted = upstream.accepted;
    await cm.disconnectAll();
    expect(single.state).toBe('closed');
    expect(pool.state).toBe('closed');
    expect(cm.poolNames).toEqual([]);
    await upstream.restart();
    expect(upstream.accepted).toBe(accepted);
  });
});
