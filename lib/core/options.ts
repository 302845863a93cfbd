import { ConnmanError } from './errors.js';
import { consoleLogger } from './logger.js';
import type { BackoffOptions, ConnmanLogger, Endpoint, SocketPassThroughOptions } from './types.js';

/** The largest delay `setTimeout` honours (about 24.8 days). */
export const MAX_TIMER_MILLIS = 2_147_483_647;

/** Connection options with every default filled in. */
export interface ResolvedConnectionOptions {
  connectTimeoutMillis: number;
  backoff: Required<BackoffOptions>;
  readIdleTimeoutMillis: number;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
  socketOptions: SocketPassThroughOptions;
  logger: ConnmanLogger;
}

export const CONNECTION_OPTION_KEYS = [
  'connectTimeoutMillis',
  'backoff',
  'readIdleTimeoutMillis',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelayMillis',
  'socketOptions',
  'logger',
] as const;

const BACKOFF_KEYS = ['initialDelayMillis', 'maxDelayMillis', 'factor', 'jitter', 'resetAfterMillis'];

/** Builds the options error; `scope` is e.g. "pool 'apns'". Values are described, never dumped. */
export function invalidOption(
  scope: string,
  option: string,
  expected: string,
  got: unknown,
  pool?: string,
): ConnmanError {
  return new ConnmanError(
    'ERR_INVALID_OPTIONS',
    `Invalid option '${option}' for ${scope}: expected ${expected}, got ${describeValue(got)}.`,
    { pool },
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'string':
      // Never echo a string: it may be a key or a passphrase given in the wrong place.
      return 'a string';
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
  }
}

/** Reads and checks option values against one scope (used for pools and single connections). */
export class OptionReader {
  constructor(
    readonly scope: string,
    private readonly source: object,
    readonly pool?: string,
  ) {}

  fail(option: string, expected: string, got: unknown): never {
    throw invalidOption(this.scope, option, expected, got, this.pool);
  }

  /** Rejects keys not in `allowed`, so a misspelt option is never silently ignored. */
  onlyKeys(allowed: readonly string[], prefix = ''): void {
    for (const key of Object.keys(this.source)) {
      if (!allowed.includes(key)) {
        throw new ConnmanError(
          'ERR_INVALID_OPTIONS',
          `Unknown option '${prefix}${key}' for ${this.scope}; known options: ${allowed.join(', ')}.`,
          { pool: this.pool },
        );
      }
    }
  }

  raw(key: string): unknown {
    return (this.source as Record<string, unknown>)[key];
  }

  /** An integer in [min, max]; `undefined` gives the default. 0 is a value like any other. */
  int(key: string, fallback: number, min: number, max = MAX_TIMER_MILLIS, label = key): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(label, `an integer from ${min} to ${max}`, value);
    }
    return value;
  }

  /** An optional positive integer; `undefined` means "off" (returned as 0). */
  optionalPositiveInt(key: string, label = key): number {
    return this.raw(key) === undefined ? 0 : this.int(key, 0, 1, MAX_TIMER_MILLIS, label);
  }

  number(key: string, fallback: number, min: number, max: number, label = key): number {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(label, `a number from ${min} to ${max}`, value);
    }
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(key, 'true or false', value);
    return value;
  }

  fn<T>(key: string): T | undefined {
    const value = this.raw(key);
    if (value !== undefined && typeof value !== 'function') this.fail(key, 'a function', value);
    return value as T | undefined;
  }

  object<T extends object>(key: string): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'an object', value);
    return value as T;
  }
}

/** Validates the options shared by pools and single connections and fills in defaults. */
export function resolveConnectionOptions(reader: OptionReader): ResolvedConnectionOptions {
  const backoffSource = reader.object<BackoffOptions>('backoff') ?? {};
  const backoff = new OptionReader(reader.scope, backoffSource, reader.pool);
  backoff.onlyKeys(BACKOFF_KEYS, 'backoff.');
  const initialDelayMillis = backoff.int('initialDelayMillis', 100, 1, MAX_TIMER_MILLIS, 'backoff.initialDelayMillis');
  const maxDelayMillis = backoff.int(
    'maxDelayMillis',
    Math.max(10_000, initialDelayMillis),
    initialDelayMillis,
    MAX_TIMER_MILLIS,
    'backoff.maxDelayMillis',
  );
  const socketOptions = reader.object<SocketPassThroughOptions>('socketOptions') ?? {};
  const logger = reader.object<ConnmanLogger>('logger') ?? consoleLogger;
  if (typeof logger.error !== 'function' || typeof logger.warn !== 'function') {
    reader.fail('logger', 'an object with error() and warn() methods', logger);
  }
  return {
    connectTimeoutMillis: reader.int('connectTimeoutMillis', 10_000, 1),
    backoff: {
      initialDelayMillis,
      maxDelayMillis,
      factor: backoff.number('factor', 2, 1, 1000, 'backoff.factor'),
      jitter: backoff.number('jitter', 1, 0, 1, 'backoff.jitter'),
      resetAfterMillis: backoff.int('resetAfterMillis', 3000, 0, MAX_TIMER_MILLIS, 'backoff.resetAfterMillis'),
    },
    readIdleTimeoutMillis: reader.optionalPositiveInt('readIdleTimeoutMillis'),
    noDelay: reader.bool('noDelay', true),
    keepAlive: reader.bool('keepAlive', true),
    keepAliveInitialDelayMillis: reader.int('keepAliveInitialDelayMillis', 30_000, 0),
    socketOptions,
    logger,
  };
}

/** Checks one endpoint; `label` names it in the message (e.g. "endpoints[1]"). */
export function checkEndpoint(scope: string, label: string, value: unknown, pool?: string): Endpoint {
  if (value === null || typeof value !== 'object') {
    throw invalidOption(scope, label || 'endpoint', 'an object { host, port } or { path }', value, pool);
  }
  const ep = value as Record<string, unknown>;
  const at = (key: string): string => (label ? `${label}.${key}` : key);
  const tls = ep.tls;
  if (tls !== undefined && typeof tls !== 'boolean' && (tls === null || typeof tls !== 'object')) {
    throw invalidOption(scope, at('tls'), 'true, false or tls.connect options', tls, pool);
  }
  if (ep.path !== undefined) {
    if (typeof ep.path !== 'string' || ep.path.length === 0) {
      throw invalidOption(scope, at('path'), 'a non-empty socket path', ep.path, pool);
    }
    if (ep.host !== undefined || ep.port !== undefined) {
      throw invalidOption(scope, label || 'path', 'either { path } or { host, port }, not both', 'both', pool);
    }
    return { path: ep.path, tls: tls as Endpoint['tls'] };
  }
  if (typeof ep.host !== 'string' || ep.host.length === 0) {
    throw invalidOption(scope, at('host'), 'a non-empty host name or address', ep.host, pool);
  }
  if (typeof ep.port !== 'number' || !Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65_535) {
    throw invalidOption(scope, at('port'), 'an integer from 1 to 65535', ep.port, pool);
  }
  return { host: ep.host, port: ep.port, tls: tls as Endpoint['tls'] };
}

/** `host:port`, `tls://host:port` or `unix:path`: never anything from the TLS options. */
export function describeEndpoint(endpoint: Endpoint): string {
  const where = endpoint.path !== undefined ? `unix:${endpoint.path}` : `${formatHost(endpoint.host)}:${endpoint.port}`;
  return endpoint.tls ? `tls://${where}` : where;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
