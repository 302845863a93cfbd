import { afterAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { Connman } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { RedisService } from '../../sample/redis/redis.service.js';
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

  it('talks to the real Redis through the same code, and recovers when the path to it goes down and up', async () => {
    const proxy = await FaultProxy.start(REDIS);
    scope.defer(() => proxy.close());
    process.env.REDIS_URL = `redis://127.0.0.1:${proxy.port}`;
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
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
});
