import { Module } from '@nestjs/common';
import { Registry } from 'prom-client';
import { MetricsController } from './metrics.controller.js';
import { ConnmanMetrics, METRICS_REGISTRY } from './metrics.registry.js';

/**
 * `GET /metrics`: the app's pools in the Prometheus text format, from a
 * prom-client `Registry` of the app's own (with `@willsoto/nestjs-prometheus`,
 * pass its registry, prom-client's global `register`, instead).
 */
@Module({
  controllers: [MetricsController],
  providers: [{ provide: METRICS_REGISTRY, useFactory: () => new Registry() }, ConnmanMetrics],
  exports: [METRICS_REGISTRY],
})
export class MetricsModule {}
