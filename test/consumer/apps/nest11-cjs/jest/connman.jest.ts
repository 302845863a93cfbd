// Copied into the app as src/connman.spec.ts by ../../run.mjs. One small Jest test in the app's own
// Jest setup (`nest new`'s: CommonJS, ts-jest), importing the package as an app's test would. Jest runs its own module system: on Node < 24.9 it cannot
// require() an ES module itself, so this app's Jest config lets ts-jest compile the package's
// files to CommonJS (see the "jest" block of package.json and docs/packaging-notes.md).
import { Test } from '@nestjs/testing';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { ConnectionPool, ConnmanModule, getPoolToken } from 'nestjs-connman';
import { ConnmanHealthIndicator } from 'nestjs-connman/health';

describe('nestjs-connman in a CommonJS Jest test', () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer((socket) => socket.pipe(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  it('injects a pool that leases an echoing connection, and closes with the module', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConnmanModule.forRoot({ pools: [{ name: 'echo', host: '127.0.0.1', port, min: 1 }] })],
    }).compile();
    const app = await moduleRef.init(); // pools open on bootstrap
    const pool = app.get<ConnectionPool>(getPoolToken('echo'));
    expect(pool).toBeInstanceOf(ConnectionPool);

    const reply = await pool.use(async (socket) => {
      socket.write('ping');
      const [chunk] = await once(socket, 'data');
      return String(chunk);
    });
    expect(reply).toBe('ping');
    expect(pool.stats()).toMatchObject({ connected: 1, leased: 0 });

    await app.close();
    expect(pool.stats().size).toBe(0);
  });

  it('loads the health subpath', () => {
    expect(typeof ConnmanHealthIndicator).toBe('function');
  });
});
