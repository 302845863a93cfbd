import type { AnyFrame } from './types.js';
import { isIP } from 'node:net';
import { ConnmanError } from './errors.js';
import type { Framing } from './framing.js';
import { consoleLogger } from './logger.js';
import type {
  BackoffOptions,
  ConnmanLogger,
  Endpoint,
  HandshakeFunction,
  HeartbeatOptions,
  RequestPayload,
  SocketPassThroughOptions,
} from './types.js';

/** The largest delay `setTimeout` honours (about 24.8 days). */
export const MAX_TIMER_MILLIS = 2_147_483_647;

/** Connection options with every default filled in. */
export interface ResolvedConnectionOptions {
  /** The `connectTimeoutMillis` option, default filled in: see {@link ConnectionOptions.connectTimeoutMillis}. */
  connectTimeoutMillis: number;
  /** The `backoff` option, default filled in: see {@link ConnectionOptions.backoff}. */
  backoff: Required<BackoffOptions>;
  /** The `readIdleTimeoutMillis` option, default filled in: see {@link ConnectionOptions.readIdleTimeoutMillis}. */
  readIdleTimeoutMillis: number;
  /** The `noDelay` option, default filled in: see {@link ConnectionOptions.noDelay}. */
  noDelay: boolean;
  /** The `keepAlive` option, default filled in: see {@link ConnectionOptions.keepAlive}. */
  keepAlive: boolean;
  /** The `keepAliveInitialDelayMillis` option, default filled in: see {@link ConnectionOptions.keepAliveInitialDelayMillis}. */
  keepAliveInitialDelayMillis: number;
  /** The `socketOptions` option, default filled in: see {@link ConnectionOptions.socketOptions}. */
  socketOptions: SocketPassThroughOptions;
  /** The `logger` option, default filled in: see {@link ConnectionOptions.logger}. */
  logger: ConnmanLogger;
  /** The `handshake` option, default filled in: see {@link ConnectionOptions.handshake}. */
  handshake: HandshakeFunction<AnyFrame> | undefined;
  /** The `framing` option, default filled in: see {@link ConnectionOptions.framing}. */
  framing: Framing<AnyFrame> | undefined;
  /** The `isReply` option, default filled in: see {@link ConnectionOptions.isReply}. */
  isReply: ((frame: AnyFrame) => boolean) | undefined;
  /** The `requestTimeoutMillis` option, default filled in: see {@link ConnectionOptions.requestTimeoutMillis}. */
  requestTimeoutMillis: number;
  /** The `resetOnRequestTimeout` option, default filled in: see {@link ConnectionOptions.resetOnRequestTimeout}. */
  resetOnRequestTimeout: boolean;
  /** The `heartbeat` option, default filled in: see {@link ConnectionOptions.heartbeat}. */
  heartbeat: ResolvedHeartbeat | undefined;
}

/** Heartbeat options with the default filled in. */
export interface ResolvedHeartbeat {
  /** The `intervalMillis` option, default filled in: see {@link HeartbeatOptions.intervalMillis}. */
  intervalMillis: number;
  /** The `payload` option, default filled in: see {@link HeartbeatOptions.payload}. */
  payload: RequestPayload | (() => RequestPayload);
  /** The `timeoutMillis` option, default filled in: see {@link HeartbeatOptions.timeoutMillis}. */
  timeoutMillis: number;
  /** The `idle` option, default filled in: see {@link HeartbeatOptions.idle}. */
  idle: 'all' | 'write' | 'read';
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
  'handshake',
  'framing',
  'isReply',
  'requestTimeoutMillis',
  'resetOnRequestTimeout',
  'heartbeat',
] as const;

const BACKOFF_KEYS = ['initialDelayMillis', 'maxDelayMillis', 'factor', 'jitter', 'resetAfterMillis'];
const HEARTBEAT_KEYS = ['intervalMillis', 'payload', 'timeoutMillis', 'idle'];
const IDLE_KINDS = ['all', 'write', 'read'];

/** `net.connect` options a user may pass through `socketOptions`. */
const SOCKET_KEYS = [
  'localAddress',
  'localPort',
  'family',
  'hints',
  'lookup',
  'autoSelectFamily',
  'autoSelectFamilyAttemptTimeout',
  'highWaterMark',
  'blockList',
  // Harmless: a half-closed connection is closed and reconnected whatever its value.
  'allowHalfOpen',
];
/** `net.connect` options the library owns, and the option to use instead. */
const OWNED_SOCKET_KEYS: Record<string, string> = {
  host: "the endpoint's host",
  port: "the endpoint's port",
  path: "the endpoint's path",
  timeout: 'connectTimeoutMillis or readIdleTimeoutMillis',
  noDelay: 'the option noDelay',
  keepAlive: 'the option keepAlive',
  keepAliveInitialDelay: 'the option keepAliveInitialDelayMillis',
  signal: 'disconnect()',
  onread: "nothing: data is read by the library (use onData or 'data')",
  fd: 'an endpoint',
  readable: 'nothing',
  writable: 'nothing',
};

/** A check of one nested value, and what it expects (for the message). */
type ValueCheck = readonly [(value: unknown) => boolean, string];

const isString = (v: unknown): boolean => typeof v === 'string';
const isBoolean = (v: unknown): boolean => typeof v === 'boolean';
const isFunction = (v: unknown): boolean => typeof v === 'function';
const isObject = (v: unknown): boolean => v !== null && typeof v === 'object';
const isBytes = (v: unknown): boolean => typeof v === 'string' || v instanceof Uint8Array;
const isInt =
  (min: number, max = MAX_TIMER_MILLIS) =>
  (v: unknown): boolean =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
/** `ca`, `cert`, `crl`: PEM text or bytes, or an array of them. */
const isBytesOrList = (v: unknown): boolean => isBytes(v) || (Array.isArray(v) && v.every(isBytes));
/**
 * `key` / `pfx`: PEM text or bytes, or an array of them or of objects carrying
 * their own passphrase (`{ pem, passphrase? }` for `key`, `{ buf, passphrase? }` for `pfx`).
 */
const isKeyOrList =
  (field: 'pem' | 'buf') =>
  (v: unknown): boolean =>
    isBytes(v) ||
    (Array.isArray(v) &&
      v.every(
        (item) =>
          isBytes(item) ||
          (isObject(item) &&
            isBytes((item as Record<string, unknown>)[field]) &&
            Object.keys(item as object).every((key) => key === field || key === 'passphrase') &&
            ((item as { passphrase?: unknown }).passphrase === undefined ||
              typeof (item as { passphrase?: unknown }).passphrase === 'string')),
      ));
/** What `tls.createSecureContext()` returns (its native handle in `context`). */
const isSecureContext = (v: unknown): boolean => isObject(v) && isObject((v as { context?: unknown }).context);
const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

const SOCKET_CHECKS: Record<string, ValueCheck> = {
  localAddress: [(v) => typeof v === 'string' && isIP(v) !== 0, 'a local IP address'],
  localPort: [isInt(0, 65_535), 'an integer from 0 to 65535'],
  family: [(v) => v === 0 || v === 4 || v === 6, '0, 4 or 6'],
  hints: [isInt(0, 2 ** 31 - 1), 'an integer (dns.lookup hints)'],
  lookup: [isFunction, 'a function like dns.lookup'],
  autoSelectFamily: [isBoolean, 'true or false'],
  autoSelectFamilyAttemptTimeout: [isInt(10), 'an integer of ms from 10'],
  highWaterMark: [isInt(0, 2 ** 31 - 1), 'an integer from 0'],
  blockList: [isObject, 'a net.BlockList'],
  allowHalfOpen: [isBoolean, 'true or false'],
};

const TLS_CHECKS: Record<string, ValueCheck> = {
  ALPNCallback: [isFunction, 'a function'],
  allowPartialTrustChain: [isBoolean, 'true or false'],
  ca: [isBytesOrList, 'PEM text or a Buffer, or an array of them'],
  cert: [isBytesOrList, 'PEM text or a Buffer, or an array of them'],
  sigalgs: [isString, 'a string'],
  ciphers: [isString, 'a string'],
  clientCertEngine: [isString, 'a string'],
  crl: [isBytesOrList, 'PEM text or a Buffer, or an array of them'],
  dhparam: [isBytes, "PEM text, a Buffer or 'auto'"],
  ecdhCurve: [isString, 'a string'],
  honorCipherOrder: [isBoolean, 'true or false'],
  key: [isKeyOrList('pem'), 'PEM text or a Buffer, or an array of them or of { pem, passphrase }'],
  privateKeyEngine: [isString, 'a string'],
  privateKeyIdentifier: [isString, 'a string'],
  maxVersion: [(v) => TLS_VERSIONS.includes(v as string), TLS_VERSIONS.join(', ')],
  minVersion: [(v) => TLS_VERSIONS.includes(v as string), TLS_VERSIONS.join(', ')],
  passphrase: [isString, 'a string'],
  pfx: [isKeyOrList('buf'), 'a Buffer, or an array of them or of { buf, passphrase }'],
  secureOptions: [isInt(0, Number.MAX_SAFE_INTEGER), 'an integer (SSL_OP_* flags)'],
  secureProtocol: [isString, 'a string'],
  sessionIdContext: [isString, 'a string'],
  ticketKeys: [(v) => v instanceof Uint8Array, 'a Buffer'],
  sessionTimeout: [isInt(0, Number.MAX_SAFE_INTEGER), 'an integer of seconds'],
  secureContext: [isSecureContext, 'a tls.SecureContext (from tls.createSecureContext())'],
  enableTrace: [isBoolean, 'true or false'],
  requestCert: [isBoolean, 'true or false'],
  ALPNProtocols: [
    (v) => v instanceof Uint8Array || (Array.isArray(v) && v.every((p) => isBytes(p))),
    'an array of protocol names, or a Buffer',
  ],
  SNICallback: [isFunction, 'a function'],
  rejectUnauthorized: [isBoolean, 'true or false'],
  checkServerIdentity: [isFunction, 'a function'],
  servername: [(v) => typeof v === 'string' && v.length > 0, 'a host name'],
  session: [(v) => v instanceof Uint8Array, 'a Buffer (a saved TLS session)'],
  minDHSize: [isInt(0, Number.MAX_SAFE_INTEGER), 'an integer of bits'],
  pskCallback: [isFunction, 'a function'],
  highWaterMark: [isInt(0, 2 ** 31 - 1), 'an integer from 0'],
};

/** Checks the values of a nested options object (`tls`, `socketOptions`) against `checks`. */
function checkValues(
  scope: string,
  prefix: string,
  source: object,
  checks: Record<string, ValueCheck>,
  pool: string | undefined,
): void {
  for (const key of Object.keys(source)) {
    const value = (source as Record<string, unknown>)[key];
    const check = checks[key];
    if (value === undefined || check === undefined) continue;
    if (!check[0](value)) throw invalidOption(scope, `${prefix}${key}`, check[1], value, pool);
  }
}

/** `tls.connect` options an endpoint's `tls` may hold (Node 20 and later). */
const TLS_KEYS = [
  // tls.createSecureContext()
  'ALPNCallback',
  'allowPartialTrustChain',
  'ca',
  'cert',
  'sigalgs',
  'ciphers',
  'clientCertEngine',
  'crl',
  'dhparam',
  'ecdhCurve',
  'honorCipherOrder',
  'key',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'maxVersion',
  'minVersion',
  'passphrase',
  'pfx',
  'secureOptions',
  'secureProtocol',
  'sessionIdContext',
  'ticketKeys',
  'sessionTimeout',
  // tls.connect()
  'secureContext',
  'enableTrace',
  'requestCert',
  'ALPNProtocols',
  'SNICallback',
  'rejectUnauthorized',
  'checkServerIdentity',
  'servername',
  'session',
  'minDHSize',
  'pskCallback',
  'highWaterMark',
];

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

/**
 * Runs `read`, the checking of user-given options: an error thrown while
 * reading them (a getter that throws, a revoked Proxy) becomes
 * ERR_INVALID_OPTIONS, with the thrown error as `cause`.
 */
export function readingOptions<T>(scope: string, pool: string | undefined, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConnmanError) throw error;
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `The options for ${scope} could not be read: reading them threw (a getter or a Proxy; see the cause). Give plain values.`,
      { pool, cause: error },
    );
  }
}

/**
 * An object that can hold options: a plain object or a class instance, not an
 * array nor a built-in such as a Map, Date or Buffer (whose keys would be ignored).
 */
export function isOptionBag(value: unknown): value is object {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.prototype.toString.call(value) === '[object Object]'
  );
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

  /** A reader of a nested object, in the same scope (callers give labels with the prefix). */
  nested(source: object): OptionReader {
    return new OptionReader(this.scope, source, this.pool);
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
    if (!isOptionBag(value)) this.fail(key, 'an object', value);
    return value as T;
  }
}

/** @internal The built-in framing builders (`lines`, ...): given uncalled as `framing`, they are refused. */
export const FRAMING_BUILDERS = new WeakSet<object>();

/** Validates the options shared by pools and single connections and fills in defaults. */
export function resolveConnectionOptions(reader: OptionReader): ResolvedConnectionOptions {
  const backoffSource = reader.object<BackoffOptions>('backoff') ?? {};
  const backoff = reader.nested(backoffSource);
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
  checkSocketOptions(reader, socketOptions);
  const logger = reader.object<ConnmanLogger>('logger') ?? consoleLogger;
  if (typeof logger.error !== 'function' || typeof logger.warn !== 'function') {
    reader.fail('logger', 'an object with error() and warn() methods', logger);
  }
  const framing = reader.fn<Framing<unknown>>('framing');
  if (framing !== undefined && FRAMING_BUILDERS.has(framing)) {
    reader.fail('framing', `a decoder factory: call the builder (framing: ${framing.name}(...))`, framing);
  }
  const isReply = reader.fn<(frame: unknown) => boolean>('isReply');
  if (isReply !== undefined && framing === undefined) {
    reader.fail('isReply', "to come with the option 'framing' (replies are whole frames)", isReply);
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
    socketOptions: hideFromInspection(socketOptions),
    logger,
    handshake: reader.fn<HandshakeFunction<unknown>>('handshake'),
    framing,
    isReply,
    requestTimeoutMillis: reader.int('requestTimeoutMillis', 30_000, 1),
    resetOnRequestTimeout: reader.bool('resetOnRequestTimeout', true),
    heartbeat: resolveHeartbeat(reader),
  };
}

function checkSocketOptions(reader: OptionReader, socketOptions: object): void {
  checkKnownSocketKeys(reader, socketOptions);
  checkValues(reader.scope, 'socketOptions.', socketOptions, SOCKET_CHECKS, reader.pool);
}

function checkKnownSocketKeys(reader: OptionReader, socketOptions: object): void {
  for (const key of Object.keys(socketOptions)) {
    const instead = OWNED_SOCKET_KEYS[key];
    if (instead !== undefined) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Option 'socketOptions.${key}' for ${reader.scope} is the library's to set; use ${instead}.`,
        { pool: reader.pool },
      );
    }
    if (!SOCKET_KEYS.includes(key)) {
      const hint = TLS_KEYS.includes(key) ? " (a TLS option: put it in the endpoint's 'tls')" : '';
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Unknown option 'socketOptions.${key}' for ${reader.scope}${hint}; known options: ${SOCKET_KEYS.join(', ')}.`,
        { pool: reader.pool },
      );
    }
  }
}

function resolveHeartbeat(reader: OptionReader): ResolvedHeartbeat | undefined {
  const source = reader.object<HeartbeatOptions>('heartbeat');
  if (source === undefined) return undefined;
  const heartbeat = reader.nested(source);
  heartbeat.onlyKeys(HEARTBEAT_KEYS, 'heartbeat.');
  if (source.intervalMillis === undefined) heartbeat.fail('heartbeat.intervalMillis', 'an integer from 1', undefined);
  const intervalMillis = heartbeat.int('intervalMillis', 0, 1, MAX_TIMER_MILLIS, 'heartbeat.intervalMillis');
  const payload = source.payload;
  if (typeof payload !== 'function' && !isPayload(payload)) {
    heartbeat.fail(
      'heartbeat.payload',
      'a non-empty string, Buffer or Uint8Array, or a function returning one',
      payload,
    );
  }
  const idle = source.idle ?? 'all';
  if (!IDLE_KINDS.includes(idle)) heartbeat.fail('heartbeat.idle', "'all', 'write' or 'read'", idle);
  return {
    intervalMillis,
    payload,
    timeoutMillis: heartbeat.int('timeoutMillis', intervalMillis, 1, MAX_TIMER_MILLIS, 'heartbeat.timeoutMillis'),
    idle,
  };
}

/** The values behind each object made by {@link hideFromInspection}. */
const hiddenValues = new WeakMap<object, Readonly<Record<string, unknown>>>();

/** A plain copy of the options behind `value` (also of one made by {@link hideFromInspection}). */
export function copyAll<T extends object>(value: T): T {
  return { ...(hiddenValues.get(value) ?? value) } as T;
}

/** True for what `request()` and heartbeats can write. */
export function isPayload(value: unknown): value is RequestPayload {
  return (typeof value === 'string' || value instanceof Uint8Array) && value.length > 0;
}

/**
 * A read-only view of an options object (socket or TLS options, which may hold
 * keys and passphrases) that code reads by name (`tls.servername`, `'ca' in
 * tls`) but that shows no key to `util.inspect` (even with `showHidden`),
 * `JSON.stringify`, `Object.keys` or a spread: a Proxy over an empty object,
 * whose target is what inspection prints.
 */
export function hideFromInspection<T extends object>(value: T): T {
  const values: Readonly<Record<string, unknown>> = Object.freeze({ ...(hiddenValues.get(value) ?? value) });
  const view = new Proxy<Record<string | symbol, unknown>>(
    {},
    {
      get: (target, key) =>
        typeof key === 'string' && Object.hasOwn(values, key) ? values[key] : Reflect.get(target, key),
      has: (target, key) => (typeof key === 'string' && Object.hasOwn(values, key)) || Reflect.has(target, key),
      ownKeys: () => [],
      getOwnPropertyDescriptor: () => undefined,
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    },
  );
  hiddenValues.set(view, values);
  return view as T;
}

const ENDPOINT_KEYS = ['host', 'port', 'path', 'tls'];

/**
 * Checks one endpoint; `label` names it in the message (e.g. "endpoints[1]").
 * Returns a copy whose `tls` is hidden from inspection (it may hold keys).
 */
export function checkEndpoint(scope: string, label: string, value: unknown, pool?: string): Endpoint {
  if (!isOptionBag(value)) {
    throw invalidOption(scope, label || 'endpoint', 'an object { host, port } or { path }', value, pool);
  }
  const ep = value as Record<string, unknown>;
  const at = (key: string): string => (label ? `${label}.${key}` : key);
  new OptionReader(scope, ep, pool).onlyKeys(ENDPOINT_KEYS, label ? `${label}.` : '');
  const tls = ep.tls;
  if (tls !== undefined && typeof tls !== 'boolean' && !isOptionBag(tls)) {
    throw invalidOption(scope, at('tls'), 'true, false or tls.connect options', tls, pool);
  }
  if (tls !== null && typeof tls === 'object') {
    new OptionReader(scope, tls, pool).onlyKeys(TLS_KEYS, `${at('tls')}.`);
    checkValues(scope, `${at('tls')}.`, tls, TLS_CHECKS, pool);
  }
  let endpoint: Endpoint;
  if (ep.path !== undefined) {
    if (typeof ep.path !== 'string' || ep.path.length === 0) {
      throw invalidOption(scope, at('path'), 'a non-empty socket path', ep.path, pool);
    }
    if (ep.host !== undefined || ep.port !== undefined) {
      throw invalidOption(scope, label || 'path', 'either { path } or { host, port }, not both', 'both', pool);
    }
    endpoint = { path: ep.path };
  } else {
    if (typeof ep.host !== 'string' || !isHostShaped(ep.host)) {
      throw invalidOption(
        scope,
        at('host'),
        'a host name or IP address (no scheme, credentials, port, path or spaces)',
        ep.host,
        pool,
      );
    }
    if (typeof ep.port !== 'number' || !Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65_535) {
      throw invalidOption(scope, at('port'), 'an integer from 1 to 65535', ep.port, pool);
    }
    endpoint = { host: ep.host, port: ep.port };
  }
  if (tls !== undefined) {
    // Readable by name, invisible to util.inspect and JSON.stringify.
    Object.defineProperty(endpoint, 'tls', {
      value: typeof tls === 'object' ? hideFromInspection(tls) : tls,
      enumerable: false,
      writable: false,
    });
  }
  return Object.freeze(endpoint);
}

/**
 * A host name or an IP address: refuses what a URL would carry around it (a
 * scheme, `user:password@`, a port, a path), which would otherwise fail only
 * at connect time, and be printed with the endpoint in messages and stats.
 */
function isHostShaped(host: string): boolean {
  if (host.length === 0) return false;
  if (isIP(host) !== 0) return true;
  // A name (any script: a custom `lookup` may resolve what DNS would not), never a URL's pieces.
  return !/[\s@/\\?#:[\]]/.test(host);
}

/** `host:port`, `tls://host:port` or `unix:path`: never anything from the TLS options. */
export function describeEndpoint(endpoint: Endpoint): string {
  const where = endpoint.path !== undefined ? `unix:${endpoint.path}` : `${formatHost(endpoint.host)}:${endpoint.port}`;
  return endpoint.tls ? `tls://${where}` : where;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
