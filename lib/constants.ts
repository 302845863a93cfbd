/** Metadata key of the `@OnConnect` / `@OnData` / `@OnReset` decorators (an array, so they stack). */
export const CONNMAN_HANDLER_METADATA = 'connman:handlers';

/** Prefix of the injection tokens of pools; see `getPoolToken`. */
export const POOL_TOKEN_PREFIX = 'connman:pool:';

/** Name of the Nest logger context the library logs under. */
export const CONNMAN_LOGGER_CONTEXT = 'Connman';

/** @internal The validated module options of `forRoot` / `forRootAsync` (global, optional). */
export const CONNMAN_SETTINGS = 'connman:settings';

/** @internal The pools `forRoot` / `forRootAsync` created, by name (private to that module). */
export const CONNMAN_ROOT_POOLS = 'connman:root-pools';

/** @internal What a `registerPoolAsync` factory returned (private to that module). */
export const CONNMAN_REGISTERED_POOL_OPTIONS = 'connman:registered-pool-options';

/**
 * @internal A serial number that makes every `forRoot` / `registerPool` call a
 * module of its own, whatever Nest's module-id algorithm: importing one call's
 * result in two places registers once; two calls for one name are a duplicate.
 */
export const CONNMAN_REGISTRATION_ID = 'connman:registration-id';
