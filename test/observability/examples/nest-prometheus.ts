// test/observability/examples/nest-prometheus.ts
import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { register } from 'prom-client';
import { Connman } from 'nestjs-connman';
import { instrumentPrometheus } from 'nestjs-connman/prometheus';

/**
 * Every pool of the app on prom-client's global registry, the one
 * `@willsoto/nestjs-prometheus` serves on /metrics: list it in `providers`
 * next to `PrometheusModule.register()` and your `ConnmanModule`.
 */
@Injectable()
export class ConnmanMetrics implements OnModuleInit, OnApplicationShutdown {
  private stopMetrics: (() => void) | undefined;

  constructor(private readonly connman: Connman) {}

  // Module init comes before the pools open (application bootstrap): their first connects are counted.
  onModuleInit(): void {
    this.stopMetrics = instrumentPrometheus(this.connman, { registry: register });
  }

  onApplicationShutdown(): void {
    this.stopMetrics?.();
  }
}
