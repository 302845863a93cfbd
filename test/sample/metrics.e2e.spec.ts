import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Logger, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { FaultProxy } from 'nestjs-connman/testing';
import { Connman } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { EmbeddedRedis } from '../../sample/upstream/embedded-redis.js';
import { until } from '../helpers/events.js';
import { httpRequest } from '../helpers/http.js';
import { useScope } from '../helpers/resources.js';
import { removeLeftoverPublishStubs } from '../observability/channels.js';
import { parseSamples, valueOf } from '../observability/prom-text.js';

describe("the sample app's /metrics", () => {
  const scope = useScope();
  const savedUrl = process.env.REDIS_URL;
  beforeAll(() => {
    removeLeftoverPublishStubs();
    delete process.env.REDIS_URL;
    Logger.overrideLogger(false);
  });
  afterAll(() => {
    if (savedUrl !== undefined) process.env.REDIS_URL = savedUrl;
  });

  async function startApp(): Promise<{ app: INestApplication; port: number }> {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    return { app, port: (app.getHttpServer().address() as AddressInfo).port };
  }

  it('serves the pool metrics in the Prometheus format, and shows an upstream outage and the recovery', async () => {
    // The upstream behind a FaultProxy, the app pointed at the proxy through its usual configuration.
    const upstream = await EmbeddedRedis.start('127.0.0.1', 0);
    scope.defer(() => upstream.stop());
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: upstream.port });
    scope.defer(() => proxy.close());
    process.env.REDIS_URL = `redis://${proxy.host}:${proxy.port}`;
    scope.defer(() => delete process.env.REDIS_URL);
    const { app, port } = await startApp();
    const [name] = app.get(Connman).poolNames;
    const pool = app.get(Connman).getPool(name);
    const labels = { pool: name };
    const scrape = async () => {
      const response = await httpRequest(port, '/metrics');
      expect(response.status).toBe(200);
      return parseSamples(response.body);
    };
    const { min } = pool.stats();
    expect(min).toBeGreaterThan(0);

    const up = await scrape();
    expect(valueOf(up, 'connman_connections', { ...labels, state: 'idle' })).toBe(min);
    expect(valueOf(up, 'connman_connections', { ...labels, state: 'pending' })).toBe(0);
    expect(valueOf(up, 'connman_connect_seconds_count', labels)).toBe(min);
    expect(valueOf(up, 'connman_resets_total', labels)).toBe(0);
    expect(valueOf(up, 'connman_connect_errors_total', labels)).toBe(0);
    const head = await httpRequest(port, '/metrics');
    expect(head.body).toMatch(/^# TYPE connman_resets_total counter$/m);
    // The sample's commands are pool.request() calls: each is counted by outcome.
    expect((await httpRequest(port, '/ping')).status).toBe(200);
    expect((await httpRequest(port, '/counter/metrics', 'POST')).status).toBeLessThan(300);
    const served = await scrape();
    expect(valueOf(served, 'connman_requests_total', { ...labels, outcome: 'ok' })).toBe(
      valueOf(up, 'connman_requests_total', { ...labels, outcome: 'ok' }) + 2,
    );
    expect(valueOf(served, 'connman_requests_total', { ...labels, outcome: 'error' })).toBe(0);

    // The upstream unreachable: every connection reset, and reconnect attempts refused.
    let createErrors = 0;
    pool.on('createError', () => createErrors++);
    await proxy.down();
    await until(pool, 'createError', () => pool.stats().connected === 0 && createErrors >= 1);
    const down = await scrape();
    expect(valueOf(down, 'connman_resets_total', labels)).toBe(min);
    expect(valueOf(down, 'connman_connect_errors_total', labels)).toBeGreaterThanOrEqual(1);
    expect(valueOf(down, 'connman_connect_errors_total', labels)).toBeLessThanOrEqual(createErrors);
    expect(valueOf(down, 'connman_connections', { ...labels, state: 'idle' })).toBe(0);
    expect(valueOf(down, 'connman_connections', { ...labels, state: 'pending' })).toBe(min);

    // Back: the pool recovers by itself, and the metrics say so.
    await proxy.up();
    await until(pool, 'reconnect', () => pool.stats().connected === min);
    const back = await scrape();
    expect(valueOf(back, 'connman_connections', { ...labels, state: 'idle' })).toBe(min);
    expect(valueOf(back, 'connman_connections', { ...labels, state: 'pending' })).toBe(0);
    expect(valueOf(back, 'connman_connect_seconds_count', labels)).toBe(2 * min);
    expect(valueOf(back, 'connman_resets_total', labels)).toBe(min);
    expect(valueOf(back, 'connman_connect_errors_total', labels)).toBe(createErrors);
  });
});
