import type { ConnmanLogger } from '../core/types.js';
import type { PoolOptions } from '../core/pool-options.js';

/** Options of `ConnmanModule.forRoot()`, or what the `forRootAsync()` factory returns. */
export interface ConnmanModuleOptions {
  /** The pools to create; each becomes injectable with `@InjectPool(name)`. */
  pools: PoolOptions[];
  /**
   * On application bootstrap, wait until each pool has its `min` connections
   * (bounded by the pool's `openTimeoutMillis`; on expiry the app fails to
   * start with an error naming the pool, the endpoint and the last connect
   * error), or connect in the background. Default true.
   */
  waitForConnections?: boolean;
  /** On shutdown, how long leases in flight may take to come back, in ms. Default 10000. */
  shutdownTimeoutMillis?: number;
  /** Where the pools log. Default: Nest's `Logger` with the context 'Connman'. */
  logger?: ConnmanLogger;
}
