import { Injectable, Logger } from '@nestjs/common';
import { CONNMAN_LOGGER_CONTEXT } from './constants.js';
import { ConnectionPool } from './core/connection-pool.js';
import { Connman } from './core/connman.js';
import { ConnmanError, isConnmanError } from './core/errors.js';
import { resolvePoolOptions, type PoolOptions } from './core/pool-options.js';
import { messages } from './connman.messages.js';
import { mergePoolOptions, withStringHint, type ConnmanSettings } from './connman.settings.js';

/**
 * @internal Puts the pools of `forRoot` / `forRootAsync` and of every
 * `registerPool` / `registerPoolAsync` into the application's one registry:
 * merges the module's `defaults`, names the registration in every error, and
 * refuses a second registration of a name (ERR_DUPLICATE_POOL, naming both).
 */
@Injectable()
export class ConnmanPoolRegistrar {
  private readonly origins = new Map<string, string>();
  private rootOrigin: string | undefined;
  private readonly defaultLogger = new Logger(CONNMAN_LOGGER_CONTEXT);

  constructor(private readonly connman: Connman) {}

  /** Records who gave the module options; a second `forRoot` / `forRootAsync` is refused. */
  claimRoot(origin: string): void {
    if (this.rootOrigin !== undefined) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.rootTwice(this.rootOrigin, origin));
    }
    this.rootOrigin = origin;
  }

  /**
   * Creates the pool from `options` on top of the module's defaults and
   * registers it. `origin` says who asked ("ConnmanModule.registerPool('x')").
   */
  register(options: unknown, origin: string, settings: ConnmanSettings | undefined): ConnectionPool {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', messages.poolOptionsNotAnObject(origin, options));
    }
    const own = options as PoolOptions;
    const name = own.name;
    if (typeof name === 'string' && this.connman.hasPool(name)) {
      const first = this.origins.get(name) ?? 'Connman.createPool()';
      throw new ConnmanError('ERR_DUPLICATE_POOL', messages.duplicatePool(name, first, origin), { pool: name });
    }
    // A pool's own logger wins, then one in defaults, then the module's, then Nest's.
    const merged = mergePoolOptions(settings?.defaults ?? {}, own);
    merged.logger ??= settings?.logger ?? this.defaultLogger;
    let pool: ConnectionPool;
    try {
      pool = new ConnectionPool(merged);
    } catch (error) {
      throw this.explain(error, origin, own, settings);
    }
    this.connman.addPool(pool);
    this.origins.set(pool.name, origin);
    return pool;
  }

  /** The core's options error, told with the registration it came from (and whether defaults played a part). */
  private explain(error: unknown, origin: string, own: PoolOptions, settings: ConnmanSettings | undefined): unknown {
    if (!isConnmanError(error, 'ERR_INVALID_OPTIONS')) return error;
    let message = withStringHint(error.message);
    if (settings !== undefined && Object.keys(settings.defaults).length > 0 && isValidAlone(own)) {
      message += messages.fromDefaults();
    }
    return new ConnmanError('ERR_INVALID_OPTIONS', messages.poolInvalid(origin, message), {
      pool: typeof own.name === 'string' ? own.name : undefined,
      cause: error,
    });
  }
}

function isValidAlone(options: PoolOptions): boolean {
  try {
    resolvePoolOptions(options);
    return true;
  } catch {
    return false;
  }
}
