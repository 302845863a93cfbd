import { afterAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ConnectionPool, Connman } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { RedisClient, redisProtocol } from '../../sample/redis/redis-client.js';
import { RedisService } from '../../sample/redis/redis.service.js';
import type { RespValue } from '../../sample/redis/resp.js';
import { until } from '../helpers/events.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { httpRequest } from '../helpers/http.js';
import { useScope } from '../helpers/resources.js';

const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };

describe('the sample app with REDIS_URL set to a real Redis', () => {
  const scope = useScope();
  const saved = process.env.REDIS_URL;
  afterAll(() => {
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
  });

  async function startApp(url: string): Promise<{ app: Awaited<ReturnType<typeof createApp>>; port: number }> {
    process.env.REDIS_URL = url;
    const app = await createApp();
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    return { app, port: (app.getHttpServer().address() as AddressInfo).port };
  }

  async function createApp() {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    return moduleRef.createNestApplication({ logger: false });
  }

  /** A client of its own, to look at the server from outside the app. */
  async function adminClient(): Promise<RedisClient> {
    const pool = new ConnectionPool<RespValue>({ name: 'admin', ...REDIS, min: 1, max: 1, ...redisProtocol() });
    scope.defer(() => pool.close());
    await pool.open();
    return new RedisClient(pool);
  }

  it('talks to the real Redis through the same code, and recovers when the path to it goes down and up', async () => {
    const proxy = await FaultProxy.start(REDIS);
    scope.defer(() => proxy.close());
    const { app, port } = await startApp(`redis://127.0.0.1:${proxy.port}`);
    const pool = app.get(Connman).getPool('redis');
    const name = `it-${process.pid}-${Date.now()}`;
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    expect((await httpRequest(port, `/counter/${name}`, 'POST')).json().value).toBe(1);
    // The embedded upstream is not there: the sample says so instead of pretending.
    expect((await httpRequest(port, '/upstream/stop', 'POST')).status).toBe(404);

    await proxy.down();
    await until(pool, 'reset', () => pool.stats().connected === 0);
    expect((await httpRequest(port, '/ping')).status).toBe(503);
    await proxy.up();
    await until(pool, 'reconnect', () => pool.stats().connected === 2);
    expect((await httpRequest(port, `/counter/${name}`, 'POST')).json().value).toBe(2);
    expect(await app.get(RedisService).command('DEL', `sample:counter:${name}`)).toBe(1);
  });

  it('authenticates as the URL user in the handshake of every connection, and names the connections', async () => {
    const admin = await adminClient();
    const user = `connman-it-${process.pid}-${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    expect(await admin.command('ACL', 'SETUSER', user, 'on', `>${password}`, '~sample:*', '+@all')).toBe('OK');
    scope.defer(() => admin.command('ACL', 'DELUSER', user));
    const { app, port } = await startApp(`redis://${user}:${password}@${REDIS.host}:${REDIS.port}`);
    expect(await app.get(RedisService).command('ACL', 'WHOAMI')).toBe(user);
    expect((await httpRequest(port, '/ping')).json()).toEqual({ reply: 'PONG' });
    // Every connection of the app's pool is this user's, and carries the sample's name.
    const mine = ((await admin.command('CLIENT', 'LIST')) as string)
      .split('\n')
      .filter((line) => line.includes(` user=${user} `));
    expect(mine).toHaveLength(2);
    for (const line of mine) expect(line).toContain(' name=nestjs-connman-sample ');
  });

  it('refuses to count a connection whose AUTH fails: the app does not start, and says why without the password', async () => {
    const password = `wrong-${randomBytes(8).toString('hex')}`;
    process.env.REDIS_URL = `redis://nobody-${process.pid}:${password}@${REDIS.host}:${REDIS.port}`;
    const app = await createApp();
    scope.defer(() => app.close());
    const failure = await app.init().then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failure).toBeInstanceOf(Error);
    const text = [failure!.message, (failure!.cause as Error | undefined)?.message].join(' ');
    expect(failure!.message).toMatch(/^Pool 'redis' could not open/);
    expect(text).toContain('ERR_HANDSHAKE_FAILED: The handshake with');
    expect(text).toContain('WRONGPASS');
    expect(text).not.toContain(password);
  });
});
