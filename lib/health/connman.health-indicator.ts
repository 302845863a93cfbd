import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { PoolStats } from '../core/connection-pool.js';
import { Connman } from '../core/connman.js';
import { describeError } from '../core/errors.js';

/** Options of {@link ConnmanHealthIndicator.isHealthy}. */
export interface ConnmanHealthOptions {
  /**
   * Fewer connected connections than this is `down`. Default: the pool's
   * `min`. Between this and `min` connected, the pool is `degraded`; so with
   * the default, a pool is `up` or `down`, and `degraded` only occurs when
   * `minConnected` is given lower than `min`.
   */
  minConnected?: number | undefined;
  /** The key in the health report. Default: the pool's name. */
  key?: string | undefined;
}

/** Per-endpoint details of a health report. */
export interface ConnmanEndpointHealth {
  /** `host:port`, `tls://host:port` or `unix:path`. */
  endpoint: string;
  /** Connections attached to this endpoint (connected or trying). */
  connections: number;
  /** Of those, the connected ones. */
  connected: number;
  /** Failed connect attempts in a row (0 once one succeeds). */
  consecutiveFailures: number;
  /** Failed connect attempts in all. */
  failures: number;
  /** The last connect error's message, while failures go on. */
  lastError: string | undefined;
}

type Session = ReturnType<HealthIndicatorService['check']>;
type Details = Record<string, unknown>;

/**
 * Terminus health indicator for a pool. Never throws; the status is:
 *
 * - `down`: no such pool (or ConnmanModule not imported), the pool is not
 *   open, fewer than `minConnected` connected, or anything unexpected;
 * - `degraded`: the pool serves (at least `minConnected` connected) but has
 *   fewer than its `min`. Terminus 12 has this status (the check stays 200,
 *   its overall status `degraded`); with a Terminus without it (11.x), the
 *   pool is reported `up`, with `degraded: true` and a message;
 * - `up` otherwise.
 *
 * The details carry the pool's counts and, per endpoint, the connected count,
 * consecutive and total connect failures and the last connect error.
 * Provide it in a module that imports `TerminusModule`.
 */
@Injectable()
export class ConnmanHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** The health of the pool named `poolName`, under `options.key` (default: the pool's name). */
  async isHealthy(poolName: string, options: ConnmanHealthOptions = {}): Promise<HealthIndicatorResult> {
    const key = typeof options?.key === 'string' ? options.key : String(poolName);
    let session: Session | undefined;
    try {
      session = this.health.check(key);
      return this.report(session, poolName, options ?? {});
    } catch (error) {
      const message = `The health of pool '${String(poolName)}' could not be checked: ${describeError(error)}`;
      // Even Terminus failed us: build its result by hand rather than throw.
      return session ? session.down({ message }) : { [key]: { status: 'down', message } };
    }
  }

  private report(session: Session, poolName: string, options: ConnmanHealthOptions): HealthIndicatorResult {
    let connman: Connman;
    try {
      connman = this.moduleRef.get(Connman, { strict: false });
    } catch {
      return session.down({ message: 'ConnmanModule is not imported in this application.' });
    }
    if (!connman.hasPool(poolName)) {
      const known = connman.poolNames;
      return session.down({
        message: `No pool named '${poolName}'; registered pools: ${known.length ? known.join(', ') : 'none'}.`,
      });
    }
    const minConnected = options.minConnected;
    if (minConnected !== undefined && (!Number.isInteger(minConnected) || minConnected < 0)) {
      return session.down({
        message: `Invalid option 'minConnected' of isHealthy('${poolName}'): expected an integer from 0.`,
      });
    }
    const stats = connman.getPool(poolName).stats();
    const floor = minConnected ?? stats.min;
    const data = details(stats);
    if (stats.state !== 'open') return session.down({ ...data, message: `Pool '${poolName}' is ${stats.state}.` });
    if (stats.connected < floor) {
      return session.down({
        ...data,
        message: `Pool '${poolName}' has ${stats.connected} connected, fewer than ${floor}.`,
      });
    }
    if (stats.connected < stats.min) {
      const message = `Pool '${poolName}' has ${stats.connected} connected, fewer than its min (${stats.min}).`;
      return hasDegraded(session)
        ? session.degraded({ ...data, message })
        : session.up({ ...data, degraded: true, message });
    }
    return session.up(data);
  }
}

/** Terminus 12 has `degraded`; Terminus 11 does not. */
function hasDegraded(session: Session): session is Session & { degraded(data: Details): HealthIndicatorResult } {
  return typeof (session as { degraded?: unknown }).degraded === 'function';
}

function details(stats: PoolStats): Details {
  return {
    state: stats.state,
    min: stats.min,
    max: stats.max,
    size: stats.size,
    connected: stats.connected,
    idle: stats.idle,
    leased: stats.leased,
    pending: stats.pending,
    waiting: stats.waiting,
    endpoints: stats.endpoints.map((e): ConnmanEndpointHealth => ({
      endpoint: e.endpoint,
      connections: e.connections,
      connected: e.connected,
      consecutiveFailures: e.consecutiveFailures,
      failures: e.failures,
      lastError: e.lastError,
    })),
  };
}
