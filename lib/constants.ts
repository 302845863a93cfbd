/** Metadata key of the `@OnConnect` / `@OnData` / `@OnReset` decorators (an array, so they stack). */
export const CONNMAN_HANDLER_METADATA = 'connman:handlers';

/** Prefix of the injection tokens of pools; see `getPoolToken`. */
export const POOL_TOKEN_PREFIX = 'connman:pool:';

/** Name of the Nest logger context the library logs under. */
export const CONNMAN_LOGGER_CONTEXT = 'Connman';
