import { describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { Connman, ConnmanModule } from '../../lib/index.js';
import { ConnmanHealthIndicator } from '../../lib/health/index.js';
import { until } from '../helpers/events.js';
import { httpRequest } from '../helpers/http.js';
import { useScope } from '../helpers/resources.js';
import { TestServer } from '../helpers/server.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly connman: ConnmanHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.connman.isHealthy('upstream', { minConnected: 2 })]);
  }

  @Get('missing')
  @HealthCheck()
  missing() {
    return this.health.check([() => this.connman.isHealthy('nope')]);
  }
}

describe('ConnmanHealthIndicator through a real Terminus /health endpoint', () => {
  const scope = useScope();

  async function start(): Promise<{ app: INestApplication; port: number; server: TestServer }> {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const moduleRef = await Test.createTestingModule({
      imports: [
        TerminusModule.forRoot({ logger: false }),
        ConnmanModule.forRoot({
          pools: [{ name: 'upstream', ...server.endpoint, min: 2, backoff: { initialDelayMillis: 60_000 } }],
        }),
      ],
      controllers: [HealthController],
      providers: [ConnmanHealthIndicator],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    return { app, port: (app.getHttpServer().address() as AddressInfo).port, server };
  }

  it('reports up with the pool stats while min connections are up', async () => {
    const { port } = await start();
    const res = await httpRequest(port, '/health');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      info: { upstream: { status: 'up', state: 'open', connected: 2, size: 2, waiting: 0 } },
    });
  });

  it('reports down (503), without throwing, when connections are lost or the pool is unknown', async () => {
    const { app, port, server } = await start();
    const pool = app.get(Connman).getPool('upstream');
    await server.stop();
    await until(pool, 'reset', () => pool.stats().connected === 0);
    const res = await httpRequest(port, '/health');
    expect(res.status).toBe(503);
    expect(res.json().error.upstream).toMatchObject({
      status: 'down',
      connected: 0,
      message: "Pool 'upstream' has 0 connected, fewer than 2.",
    });
    const missing = await httpRequest(port, '/health/missing');
    expect(missing.status).toBe(503);
    expect(missing.json().error.nope).toMatchObject({
      status: 'down',
      message: "No pool named 'nope'; registered pools: upstream.",
    });
  });
});
