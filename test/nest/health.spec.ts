import { describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, Query, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { Connman, ConnmanModule, type PoolOptions } from '../../lib/index.js';
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

  /** `/health/pool/NAME?minConnected=N` (N given as a number; `?minConnected=bad` passes the string through). */
  @Get('pool/:name')
  @HealthCheck()
  pool(@Param('name') name: string, @Query('minConnected') minConnected?: string) {
    const min =
      minConnected === undefined ? undefined : /^\d+$/.test(minConnected) ? Number(minConnected) : minConnected;
    return this.health.check([() => this.connman.isHealthy(name, { minConnected: min as number | undefined })]);
  }
}

/** Terminus 11's session: up and down, no degraded. */
class Terminus11HealthIndicatorService {
  private readonly real = new HealthIndicatorService();
  check(key: string) {
    const session = this.real.check(key);
    return { up: session.up.bind(session), down: session.down.bind(session) };
  }
}

describe('ConnmanHealthIndicator through a real Terminus /health endpoint', () => {
  const scope = useScope();

  async function start(
    pool: Partial<PoolOptions> = {},
    options: { terminus11?: boolean; registered?: boolean } = {},
  ): Promise<{ app: INestApplication; port: number; server: TestServer }> {
    const server = await TestServer.start();
    scope.defer(() => server.stop());
    const upstream = { name: 'upstream', ...server.endpoint, min: 2, backoff: { initialDelayMillis: 60_000 }, ...pool };
    @Module({ imports: [ConnmanModule.registerPool(upstream)] })
    class Feature {}
    let builder = Test.createTestingModule({
      imports: [
        TerminusModule.forRoot({ logger: false }),
        options.registered ? Feature : ConnmanModule.forRoot({ pools: [upstream] }),
      ],
      controllers: [HealthController],
      providers: [ConnmanHealthIndicator],
    });
    if (options.terminus11)
      builder = builder.overrideProvider(HealthIndicatorService).useClass(Terminus11HealthIndicatorService);
    const moduleRef = await builder.compile();
    const app = moduleRef.createNestApplication({ logger: false });
    scope.defer(() => app.close());
    await app.listen(0, '127.0.0.1');
    return { app, port: (app.getHttpServer() as { address(): AddressInfo }).address().port, server };
  }

  /** Resets one of the pool's connections from the server side and waits until the pool counts one fewer. */
  async function loseOne(app: INestApplication, server: TestServer): Promise<void> {
    const pool = app.get(Connman).getPool('upstream');
    const before = pool.stats().connected;
    [...server.sockets][0].resetAndDestroy();
    await until(pool, 'reset', () => pool.stats().connected === before - 1);
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

  /** Terminus 12 has a degraded status; Terminus 11 does not (the indicator detects it at runtime). */
  const terminusHasDegraded =
    typeof (new HealthIndicatorService().check('probe') as { degraded?: unknown }).degraded === 'function';

  it('reports degraded (200) when the pool serves with fewer than its min but at least minConnected', async () => {
    const { app, port, server } = await start();
    await loseOne(app, server);
    const res = await httpRequest(port, '/health/pool/upstream?minConnected=1');
    expect(res.status).toBe(200);
    const details = { connected: 1, min: 2, message: "Pool 'upstream' has 1 connected, fewer than its min (2)." };
    // Detected at runtime: Terminus 12 has the status; with Terminus 11 the pool is up, flagged degraded.
    expect(res.json()).toMatchObject(
      terminusHasDegraded
        ? { status: 'degraded', info: { upstream: { status: 'degraded', ...details } } }
        : { status: 'ok', info: { upstream: { status: 'up', degraded: true, ...details } } },
    );
  });

  it('reports down, not degraded, below min when minConnected is left to its default (the pool min)', async () => {
    const { app, port, server } = await start();
    await loseOne(app, server);
    const res = await httpRequest(port, '/health/pool/upstream');
    expect(res.status).toBe(503);
    expect(res.json().error.upstream).toMatchObject({ status: 'down', connected: 1 });
  });

  it('reports up, flagged degraded, where the installed Terminus has no degraded status (11.x)', async () => {
    const { app, port, server } = await start({}, { terminus11: true });
    await loseOne(app, server);
    const res = await httpRequest(port, '/health/pool/upstream?minConnected=1');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'ok',
      info: {
        upstream: {
          status: 'up',
          degraded: true,
          connected: 1,
          message: expect.stringContaining('fewer than its min'),
        },
      },
    });
  });

  it("carries each endpoint's connected count, consecutive and total failures and last connect error", async () => {
    const { app, port, server } = await start({ min: 1, backoff: { initialDelayMillis: 10, maxDelayMillis: 20 } });
    const pool = app.get(Connman).getPool('upstream');
    await server.stop();
    await until(pool, 'createError', () => pool.stats().endpoints[0].consecutiveFailures >= 2);
    const res = await httpRequest(port, '/health/pool/upstream');
    expect(res.status).toBe(503);
    const [endpoint] = res.json().error.upstream.endpoints;
    expect(endpoint).toMatchObject({ endpoint: `127.0.0.1:${server.port}`, connections: 1, connected: 0 });
    expect(endpoint.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(endpoint.failures).toBeGreaterThanOrEqual(endpoint.consecutiveFailures);
    expect(endpoint.lastError).toMatch(/ECONNREFUSED/);
  });

  it('reports down for a pool that is not open, and for bad options, never throwing', async () => {
    const { app, port, server } = await start();
    app.get(Connman).createPool('late', { ...server.endpoint, min: 0 });
    const late = await httpRequest(port, '/health/pool/late');
    expect(late.status).toBe(503);
    expect(late.json().error.late).toMatchObject({ status: 'down', state: 'new', message: "Pool 'late' is new." });
    const bad = await httpRequest(port, '/health/pool/upstream?minConnected=two');
    expect(bad.status).toBe(503);
    expect(bad.json().error.upstream).toMatchObject({
      status: 'down',
      message: "Invalid option 'minConnected' of isHealthy('upstream'): expected an integer from 0.",
    });
  });

  it('reports a pool registered by a feature module like the others', async () => {
    const { port } = await start({}, { registered: true });
    const res = await httpRequest(port, '/health/pool/upstream');
    expect(res.status).toBe(200);
    expect(res.json().info.upstream).toMatchObject({ status: 'up', connected: 2 });
  });
});
