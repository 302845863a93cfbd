import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CONNMAN_LOGGER_CONTEXT, CONNMAN_SETTINGS } from './constants.js';
import type { ConnectionPool } from './core/connection-pool.js';
import { Connman } from './core/connman.js';
import { ConnmanError, describeError, isConnmanError } from './core/errors.js';
import type { ConnmanLogger } from './core/types.js';
import { ConnmanExplorer } from './connman.explorer.js';
import { messages, type OpenFailure } from './connman.messages.js';
import type { ConnmanSettings } from './connman.settings.js';
import { getPoolToken } from './utils/get-pool-token.util.js';

/**
 * Owns the pools' life in the application, in Nest's phases (hooks of one
 * phase run concurrently, so the order comes from the phases):
 *
 * 1. `onModuleInit` (the explorer): handlers are bound before anything connects.
 * 2. `onApplicationBootstrap`: every pool of the registry opens (waiting for
 *    `min`, or in the background). If one cannot, the pools are closed and
 *    the app fails to start with one error; nothing is logged here, so that
 *    the error is reported once, by whoever started the app.
 * 3. `beforeApplicationShutdown`: pools stop lending and drain, leases in
 *    flight get `shutdownTimeoutMillis`; handlers still receive their events.
 * 4. `onApplicationShutdown`: whatever is left is closed, and only then are
 *    the handlers unbound.
 *
 * Shutdown code logs and goes on; it never throws.
 */
@Injectable()
export class ConnmanLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger: ConnmanLogger;

  constructor(
    private readonly connman: Connman,
    private readonly explorer: ConnmanExplorer,
    private readonly moduleRef: ModuleRef,
    @Optional() @Inject(CONNMAN_SETTINGS) private readonly settings: ConnmanSettings | undefined,
  ) {
    this.logger = settings?.logger ?? new Logger(CONNMAN_LOGGER_CONTEXT);
  }

  async onApplicationBootstrap(): Promise<void> {
    const wait = this.settings?.waitForConnections ?? true;
    const bound = this.settings?.openTimeoutMillis;
    // A pool whose token a test replaced (overrideProvider(getPoolToken(name))) is not opened.
    const pools = this.connman.poolNames
      .map((name) => this.connman.getPool(name))
      .filter((pool) => !this.overridden(pool));
    const timeouts = pools.map((pool) =>
      bound === undefined ? pool.options.openTimeoutMillis : Math.min(bound, pool.options.openTimeoutMillis),
    );
    const results = await Promise.allSettled(
      pools.map(async (pool, i) => pool.open(bound === undefined ? { wait } : { wait, timeoutMillis: timeouts[i] })),
    );
    const failed = results.flatMap((result, i) =>
      result.status === 'rejected' ? [{ pool: pools[i], timeoutMillis: timeouts[i], error: result.reason }] : [],
    );
    if (failed.length === 0) return;
    const failures = failed.map(({ pool, timeoutMillis, error }) => describeFailure(pool, timeoutMillis, error));
    // The app will not start: leave no socket or timer behind, so the process can exit.
    await this.connman.disconnectAll({ timeoutMillis: 0 }).catch(() => undefined);
    const first = failed[0];
    // The cause is the last connect error, not the core's open() error: that
    // one says the pool keeps trying, which no longer holds.
    const cause = isConnmanError(first.error) && first.error.cause !== undefined ? first.error.cause : first.error;
    throw new ConnmanError(
      isConnmanError(first.error) ? first.error.code : 'ERR_CONNECT_TIMEOUT',
      messages.bootstrapFailed(failures),
      { pool: first.pool.name, cause },
    );
  }

  /** True when the pool's injection token resolves to something else than the registry's pool. */
  private overridden(pool: ConnectionPool): boolean {
    let provided: unknown;
    try {
      provided = this.moduleRef.get(getPoolToken(pool.name), { strict: false });
    } catch {
      return false; // created at runtime, without a token
    }
    if (provided === pool) return false;
    this.logger.log?.(messages.overridden(pool.name));
    return true;
  }

  async beforeApplicationShutdown(): Promise<void> {
    const timeoutMillis = this.settings?.shutdownTimeoutMillis ?? 10_000;
    await Promise.all(
      this.connman.poolNames.map(async (name) => {
        try {
          await this.connman.getPool(name).close({ timeoutMillis });
          this.logger.log?.(messages.closed(name));
        } catch (error) {
          this.logger.error(messages.closeFailed(name, describeError(error)));
        }
      }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    try {
      await this.connman.disconnectAll({ timeoutMillis: 0 });
    } catch (error) {
      this.logger.error(messages.disconnectFailed(describeError(error)));
    }
    // Only now: until the pools are closed, their connections may still deliver data.
    this.explorer.unbind();
  }
}

function describeFailure(pool: ConnectionPool, timeoutMillis: number, error: unknown): OpenFailure {
  if (!isConnmanError(error, 'ERR_CONNECT_TIMEOUT')) {
    return { pool: pool.name, timeoutMillis: undefined, stats: undefined, error: describeError(error) };
  }
  const cause = error.cause === undefined ? undefined : describeError(error.cause);
  return { pool: pool.name, timeoutMillis, stats: pool.stats(), error: describeError(error), lastError: cause };
}
