import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ConnmanHealthIndicator } from '../../lib/health/index.js';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly connman: ConnmanHealthIndicator,
  ) {}

  /** 200 while the Redis pool has its min connections, 503 otherwise. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.connman.isHealthy('redis')]);
  }
}
