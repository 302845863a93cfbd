import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Registry } from 'prom-client';
import { Connman } from '../../lib/index.js';
import { instrumentPrometheus } from '../../lib/prometheus/index.js';

/** The injection token of the app's Prometheus registry. */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/**
 * Puts every pool of the app's `Connman` on the registry: from module init,
 * so the pools' first connects (on application bootstrap) are counted, and
 * pools registered later are covered too. Takes it all back on shutdown.
 */
@Injectable()
export class ConnmanMetrics implements OnModuleInit, OnApplicationShutdown {
  private remove: (() => void) | undefined;

  constructor(
    private readonly connman: Connman,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  onModuleInit(): void {
    this.remove = instrumentPrometheus(this.connman, { registry: this.registry });
  }

  onApplicationShutdown(): void {
    this.remove?.();
  }
}
