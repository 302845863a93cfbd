import { describe, expect, it } from '@jest/globals';
import type { TLSSocket } from 'node:tls';
import { ConnectionPool, PersistentConnection, type ConnmanError } from '../../lib/index.js';
import { next } from '../helpers/events.js';
import { useScope } from '../helpers/resources.js';
import { TestServer, silent } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';

const noRetry = { backoff: { initialDelayMillis: 60_000 } };

describe('TLS endpoints', () => {
  const scope = useScope();

  async function tlsServer(): Promise<TestServer> {
    const server = await TestServer.start({ tls: selfSigned });
    scope.defer(() => server.stop());
    return server;
  }
  function connection(...args: ConstructorParameters<typeof PersistentConnection<Buffer>>): PersistentConnection {
    const conn = new PersistentConnection(...args);
    scope.defer(() => conn.disconnect());
    return conn;
  }

  it('rejects a self-signed certificate by default', async () => {
    const server = await tlsServer();
    const conn = connection({ ...server.endpoint, tls: true }, {}, noRetry);
    const [error] = await next<[NodeJS.ErrnoException]>(conn.connect(), 'connectError');
    expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('still verifies with rejectUnauthorized: undefined', async () => {
    const server = await tlsServer();
    const conn = connection({ ...server.endpoint, tls: { rejectUnauthorized: undefined } }, {}, noRetry);
    const [error] = await next<[NodeJS.ErrnoException]>(conn.connect(), 'connectError');
    expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('accepts the certificate given as ca, and echoes over TLS', async () => {
    const server = await tlsServer();
    const conn = connection({ ...server.endpoint, tls: { ca: selfSigned.cert } }, {}, noRetry);
    const [socket] = await next<[TLSSocket]>(conn.connect(), 'connect');
    expect(socket.authorized).toBe(true);
    socket.write('over tls');
    const [data] = await next<[Buffer]>(conn, 'data');
    expect(String(data)).toBe('over tls');
  });

  it('rejects a wrong servername', async () => {
    const server = await tlsServer();
    const conn = connection(
      { ...server.endpoint, tls: { ca: selfSigned.cert, servername: 'example.invalid' } },
      {},
      noRetry,
    );
    const [error] = await next<[NodeJS.ErrnoException]>(conn.connect(), 'connectError');
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('times out a handshake with a server that accepts and never answers', async () => {
    const server = await TestServer.start({ handler: silent });
    scope.defer(() => server.stop());
    const conn = connection(
      { ...server.endpoint, tls: { ca: selfSigned.cert } },
      {},
      { ...noRetry, connectTimeoutMillis: 100 },
    );
    const [error] = await next<[ConnmanError]>(conn.connect(), 'connectError');
    expect(error.code).toBe('ERR_CONNECT_TIMEOUT');
  });

  it('pools TLS connections', async () => {
    const server = await tlsServer();
    const pool = new ConnectionPool({ name: 'tls', ...server.endpoint, tls: { ca: selfSigned.cert }, min: 2 });
    scope.defer(() => pool.close());
    await pool.open();
    const lease = await pool.acquire();
    expect((lease.socket as TLSSocket).encrypted).toBe(true);
    lease.release();
  });
});
