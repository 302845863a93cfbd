// examples/readme/health.controller.ts
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { ConnmanHealthIndicator } from 'nestjs-connman/health';

// Provide ConnmanHealthIndicator in a module that imports TerminusModule.
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly connman: ConnmanHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.connman.isHealthy('redis', { minConnected: 1 })]);
  }
}
