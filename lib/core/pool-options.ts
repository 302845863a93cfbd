import type { AnyFrame } from './types.js';
import { ConnmanError } from './errors.js';
import { checkCallbacks } from './persistent-connection.js';
import {
  isOptionBag,
  readingOptions,
  CONNECTION_OPTION_KEYS,
  MAX_TIMER_MILLIS,
  OptionReader,
  checkEndpoint,
  resolveConnectionOptions,
  type ResolvedConnectionOptions,
} from './options.js';
import type { PersistentConnection } from './persistent-connection.js';
import type { ConnectionCallbacks, ConnectionOptions, ConnmanSocket, Endpoint, EndpointTls } from './types.js';

/** Checks a connection before a lease on it is handed out: `false` (or a throw) replaces it. */
export type ValidateFunction = (socket: ConnmanSocket, connection: PersistentConnection) => boolean | Promise<boolean>;

/** Options of a {@link ConnectionPool}. Names follow generic-pool, tarn and HikariCP. */
export interface PoolOptions<F = Buffer> extends ConnectionOptions<F> {
  /** Unique name of the pool. */
  name: string;
  /** Where to connect; several endpoints spread the connections and fail over. */
  endpoints?: readonly Endpoint[] | undefined;
  /** Shorthand for a single endpoint: its host (with `port`, and `tls` if wanted). */
  host?: string | undefined;
  /** Shorthand for a single endpoint: its port. */
  port?: number | undefined;
  /** Shorthand for a single Unix socket (or named pipe) endpoint. */
  path?: string | undefined;
  /** Shorthand for a single endpoint: TLS (`true`, or `tls.connect` options; verification stays on). */
  tls?: EndpointTls | undefined;
  /** Persistent connections opened by `open()` and kept for good. Default 1 (0 without endpoints). */
  min?: number | undefined;
  /** Upper bound on connections, those being created included. Default 10. */
  max?: number | undefined;
  /** A waiting `acquire()` rejects with ERR_ACQUIRE_TIMEOUT after this, in ms. Default 30000. */
  acquireTimeoutMillis?: number | undefined;
  /** More waiting acquires than this reject at once with ERR_TOO_MANY_WAITERS. Default 10000. */
  maxWaitingClients?: number | undefined;
  /** Connections above `min` idle this long are closed, in ms. Default 10000. */
  idleTimeoutMillis?: number | undefined;
  /** Connections are replaced after this (minus up to 10% jitter), never while leased, in ms. Default off. */
  maxLifetimeMillis?: number | undefined;
  /** Connect attempts of new connections in flight at once. Default 2. */
  maxConcurrentCreates?: number | undefined;
  /** Check before each lease; `false`, a throw or a timeout replaces the connection. */
  validate?: ValidateFunction | undefined;
  /** Bound on one asynchronous `validate`, in ms (the caller's deadline bounds it too). Default 5000. */
  validateTimeoutMillis?: number | undefined;
  /** Warn, with the acquiring stack, about a lease held longer than this, in ms. Default off. */
  leakDetectionThresholdMillis?: number | undefined;
  /** How often idle connections are checked for eviction, in ms. Default idleTimeoutMillis / 2, 10 to 1000. */
  reapIntervalMillis?: number | undefined;
  /** Bound on `open()` waiting for `min` connections, in ms. Default connectTimeoutMillis. */
  openTimeoutMillis?: number | undefined;
  /**
   * Which idle connection a lease gets: the most recently released (false,
   * the default: extra connections stay idle and are closed after
   * idleTimeoutMillis) or the least recently released (true: use spreads
   * over every connection, as generic-pool's `fifo`).
   */
  fifo?: boolean | undefined;
  /** Callbacks (connman's keys) run for every connection of the pool. */
  callbacks?: ConnectionCallbacks<F> | undefined;
}

/** Pool options with every default filled in. */
export interface ResolvedPoolOptions {
  /** The `name` option, default filled in: see {@link PoolOptions.name}. */
  name: string;
  /** The `endpoints` option, default filled in: see {@link PoolOptions.endpoints}. */
  endpoints: readonly Endpoint[];
  /** The `min` option, default filled in: see {@link PoolOptions.min}. */
  min: number;
  /** The `max` option, default filled in: see {@link PoolOptions.max}. */
  max: number;
  /** The `acquireTimeoutMillis` option, default filled in: see {@link PoolOptions.acquireTimeoutMillis}. */
  acquireTimeoutMillis: number;
  /** The `maxWaitingClients` option, default filled in: see {@link PoolOptions.maxWaitingClients}. */
  maxWaitingClients: number;
  /** The `idleTimeoutMillis` option, default filled in: see {@link PoolOptions.idleTimeoutMillis}. */
  idleTimeoutMillis: number;
  /** The `maxLifetimeMillis` option, default filled in: see {@link PoolOptions.maxLifetimeMillis}. */
  maxLifetimeMillis: number;
  /** The `maxConcurrentCreates` option, default filled in: see {@link PoolOptions.maxConcurrentCreates}. */
  maxConcurrentCreates: number;
  /** The `validate` option, default filled in: see {@link PoolOptions.validate}. */
  validate: ValidateFunction | undefined;
  /** The `validateTimeoutMillis` option, default filled in: see {@link PoolOptions.validateTimeoutMillis}. */
  validateTimeoutMillis: number;
  /** The `leakDetectionThresholdMillis` option, default filled in: see {@link PoolOptions.leakDetectionThresholdMillis}. */
  leakDetectionThresholdMillis: number;
  /** The `reapIntervalMillis` option, default filled in: see {@link PoolOptions.reapIntervalMillis}. */
  reapIntervalMillis: number;
  /** The `openTimeoutMillis` option, default filled in: see {@link PoolOptions.openTimeoutMillis}. */
  openTimeoutMillis: number;
  /** The `fifo` option, default filled in: see {@link PoolOptions.fifo}. */
  fifo: boolean;
  /** The `callbacks` option, default filled in: see {@link PoolOptions.callbacks}. */
  callbacks: ConnectionCallbacks<AnyFrame> | undefined;
  /** The connection options of every connection of the pool, defaults filled in (see {@link ConnectionOptions}). */
  connection: ResolvedConnectionOptions;
}

const POOL_KEYS: readonly string[] = [
  'name',
  'endpoints',
  'host',
  'port',
  'path',
  'tls',
  'min',
  'max',
  'acquireTimeoutMillis',
  'maxWaitingClients',
  'idleTimeoutMillis',
  'maxLifetimeMillis',
  'maxConcurrentCreates',
  'validate',
  'validateTimeoutMillis',
  'leakDetectionThresholdMillis',
  'reapIntervalMillis',
  'openTimeoutMillis',
  'fifo',
  'callbacks',
  ...CONNECTION_OPTION_KEYS,
];

/** Validates every pool option up front; the error names the pool and the option. */
export function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  return readingOptions('a pool', undefined, () => resolveChecked(options));
}

function resolveChecked(options: PoolOptions): ResolvedPoolOptions {
  if (!isOptionBag(options)) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', 'Pool options must be an object with at least a name.');
  }
  const name = options.name;
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid option 'name': expected a non-empty string naming the pool.`,
    );
  }
  const scope = `pool '${name}'`;
  const reader = new OptionReader(scope, options, name);
  reader.onlyKeys(POOL_KEYS);

  const endpoints = resolveEndpoints(reader, options);
  const min = reader.int('min', endpoints.length > 0 ? 1 : 0, 0, 100_000);
  const max = reader.int('max', Math.max(10, min), 1, 100_000);
  if (min > max) reader.fail('min', `at most max (${max})`, min);
  if (min > 0 && endpoints.length === 0) {
    reader.fail(
      'min',
      '0 when the pool has no endpoints (give endpoints, host/port or path, or add connections with addConnection)',
      min,
    );
  }
  const connection = resolveConnectionOptions(reader);
  const idleTimeoutMillis = reader.int('idleTimeoutMillis', 10_000, 0);
  const callbacks = reader.object<ConnectionCallbacks>('callbacks');
  if (callbacks !== undefined) checkCallbacks(callbacks, 'callbacks', name);
  return {
    name,
    endpoints,
    min,
    max,
    acquireTimeoutMillis: reader.int('acquireTimeoutMillis', 30_000, 0),
    maxWaitingClients: reader.int('maxWaitingClients', 10_000, 0, Number.MAX_SAFE_INTEGER),
    idleTimeoutMillis,
    maxLifetimeMillis: reader.optionalPositiveInt('maxLifetimeMillis'),
    maxConcurrentCreates: reader.int('maxConcurrentCreates', 2, 1, 100_000),
    validate: reader.fn('validate'),
    validateTimeoutMillis: reader.int('validateTimeoutMillis', 5000, 1),
    leakDetectionThresholdMillis: reader.optionalPositiveInt('leakDetectionThresholdMillis'),
    reapIntervalMillis: reader.int(
      'reapIntervalMillis',
      Math.min(1000, Math.max(10, Math.floor(idleTimeoutMillis / 2))),
      1,
      MAX_TIMER_MILLIS,
    ),
    openTimeoutMillis: reader.int('openTimeoutMillis', connection.connectTimeoutMillis, 0),
    fifo: reader.bool('fifo', false),
    callbacks,
    connection,
  };
}

function resolveEndpoints(reader: OptionReader, options: PoolOptions): readonly Endpoint[] {
  const scope = reader.scope;
  const hasShorthand = options.host !== undefined || options.port !== undefined || options.path !== undefined;
  if (options.endpoints !== undefined) {
    if (hasShorthand) reader.fail('endpoints', 'either endpoints or host/port/path, not both', 'both');
    if (!Array.isArray(options.endpoints))
      reader.fail('endpoints', 'an array of { host, port } or { path }', options.endpoints);
    return Object.freeze(
      Array.from(options.endpoints, (ep, i) => checkEndpoint(scope, `endpoints[${i}]`, ep, reader.pool)),
    );
  }
  if (!hasShorthand) {
    if (options.tls !== undefined) reader.fail('tls', 'to come with host and port (or path)', options.tls);
    return [];
  }
  const single =
    options.path !== undefined
      ? { path: options.path, tls: options.tls }
      : { host: options.host, port: options.port, tls: options.tls };
  const checked = checkEndpoint(scope, '', single, reader.pool);
  return Object.freeze([checked]);
}
