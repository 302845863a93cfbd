import { Controller, Get, HttpCode, Inject, Post } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ConnmanHealthIndicator } from 'nestjs-connman/health';
import { POOL_NAME, ShutdownSignal } from './probe.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly connman: ConnmanHealthIndicator,
    private readonly shutdown: ShutdownSignal,
    @Inject(POOL_NAME) private readonly pool: string,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.connman.isHealthy(this.pool, { minConnected: 1 })]);
  }

  /** A pool nobody registered: `down` (HTTP 503), never a crash. */
  @Get('health/missing')
  @HealthCheck()
  missing() {
    return this.health.check([() => this.connman.isHealthy('missing')]);
  }

  @Post('shutdown')
  @HttpCode(202)
  requestShutdown(): { closing: true } {
    this.shutdown.request();
    return { closing: true };
  }
}
