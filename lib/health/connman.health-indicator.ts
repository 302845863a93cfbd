import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { Connman } from '../core/connman.js';

/** Options of {@link ConnmanHealthIndicator.isHealthy}. */
export interface ConnmanHealthOptions {
  /** Fewer connected connections than this is `down`. Default: the pool's `min`. */
  minConnected?: number;
  /** The key in the health report. Default: the pool's name. */
  key?: string;
}

/**
 * Terminus health indicator for a pool: `up` with the pool's stats, or
 * `down` (unknown pool, pool not open, too few connections). Never throws.
 * Provide it in a module that imports `TerminusModule`.
 */
@Injectable()
export class ConnmanHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  async isHealthy(poolName: string, options: ConnmanHealthOptions = {}): Promise<HealthIndicatorResult> {
    const indicator = this.health.check(options.key ?? poolName);
    let connman: Connman;
    try {
      connman = this.moduleRef.get(Connman, { strict: false });
    } catch {
      return indicator.down({ message: 'ConnmanModule is not imported in this application.' });
    }
    if (!connman.hasPool(poolName)) {
      const known = connman.poolNames;
      return indicator.down({
        message: `No pool named '${poolName}'; registered pools: ${known.length ? known.join(', ') : 'none'}.`,
      });
    }
    const stats = connman.getPool(poolName).stats();
    const minConnected = options.minConnected ?? stats.min;
    const data = {
      state: stats.state,
      size: stats.size,
      connected: stats.connected,
      idle: stats.idle,
      leased: stats.leased,
      pending: stats.pending,
      waiting: stats.waiting,
      endpoints: stats.endpoints.map(({ endpoint, connected, lastError }) => ({ endpoint, connected, lastError })),
    };
    if (stats.state !== 'open') return indicator.down({ ...data, message: `Pool '${poolName}' is ${stats.state}.` });
    if (stats.connected < minConnected) {
      return indicator.down({
        ...data,
        message: `Pool '${poolName}' has ${stats.connected} connected, fewer than ${minConnected}.`,
      });
    }
    return indicator.up(data);
  }
}
