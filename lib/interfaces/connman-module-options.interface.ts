import type { PoolOptions } from '../core/pool-options.js';
import type { AnyFrame, ConnmanLogger } from '../core/types.js';

/**
 * Pool options shared by every pool of the application (those of `forRoot` /
 * `forRootAsync` and those of `registerPool` / `registerPoolAsync`), given as
 * `defaults` in the module options.
 *
 * How they merge: a pool's own option wins over the default, key by key; a key
 * the pool leaves `undefined` takes the default. `backoff` and `socketOptions`
 * merge one level deep (a pool giving `backoff: { maxDelayMillis }` keeps the
 * default `initialDelayMillis`); every other value, objects and functions
 * included, is taken whole from the pool when it gives one.
 *
 * Where and who stay per pool: `name`, `endpoints`, `host`, `port`, `path`,
 * `tls` and `callbacks` are refused here (for handlers on every pool, use
 * `@OnConnect()` / `@OnData()` / `@OnReset()` without a pool name).
 */
export type ConnmanPoolDefaults = Omit<
  PoolOptions,
  'name' | 'endpoints' | 'host' | 'port' | 'path' | 'tls' | 'callbacks'
>;

/**
 * Options of `ConnmanModule.forRoot()`, or what the `forRootAsync()` factory
 * returns. Every key is validated at startup (`ERR_INVALID_OPTIONS` names the
 * key); unknown keys are refused.
 */
export interface ConnmanModuleOptions {
  /** The pools to create; each becomes injectable with `@InjectPool(name)`. Default none. */
  pools?: PoolOptions<AnyFrame>[] | undefined;
  /** Options every pool of the application starts from; see {@link ConnmanPoolDefaults}. */
  defaults?: ConnmanPoolDefaults | undefined;
  /**
   * On application bootstrap, wait until each pool has its `min` connections
   * (bounded by the pool's `openTimeoutMillis` and the module's
   * `openTimeoutMillis`; on expiry the app fails to start with one error
   * naming the pool, the endpoint and the last connect error, and the pools
   * are closed), or connect in the background. Default true.
   */
  waitForConnections?: boolean | undefined;
  /**
   * Upper bound on the bootstrap wait, in ms: each pool waits at most the
   * smaller of this and its own `openTimeoutMillis`. Default: no module-wide
   * bound (each pool's `openTimeoutMillis`).
   */
  openTimeoutMillis?: number | undefined;
  /** On shutdown, how long leases in flight may take to come back, in ms. Default 10000. */
  shutdownTimeoutMillis?: number | undefined;
  /**
   * Where the pools and the module log: an object with `error()` and `warn()`
   * (and, optionally, `log()` and `debug()`), such as a Nest `Logger`.
   * Default: Nest's `Logger` with the context 'Connman'. A pool's own
   * `logger` (or one in `defaults`) wins for that pool.
   */
  logger?: ConnmanLogger | undefined;
}
