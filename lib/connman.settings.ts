import { ConnmanError, isConnmanError } from './core/errors.js';
import { lines } from './core/framing.js';
import { MAX_TIMER_MILLIS, OptionReader, invalidOption } from './core/options.js';
import { resolvePoolOptions, type PoolOptions } from './core/pool-options.js';
import type { ConnmanLogger } from './core/types.js';
import { describeKind, messages } from './connman.messages.js';
import type { ConnmanModuleOptions, ConnmanPoolDefaults } from './interfaces/connman-module-options.interface.js';

/** The module options of `forRoot` / `forRootAsync`, validated, defaults filled in. */
export interface ConnmanSettings {
  /** Who gave them, for messages: 'ConnmanModule.forRoot()' or 'ConnmanModule.forRootAsync()'. */
  readonly origin: string;
  readonly pools: readonly PoolOptions[];
  readonly defaults: Readonly<ConnmanPoolDefaults>;
  readonly waitForConnections: boolean;
  readonly openTimeoutMillis: number | undefined;
  readonly shutdownTimeoutMillis: number;
  readonly logger: ConnmanLogger | undefined;
}

const MODULE_KEYS = [
  'pools',
  'defaults',
  'waitForConnections',
  'openTimeoutMillis',
  'shutdownTimeoutMillis',
  'logger',
] as const;

/** Keys that say where a pool connects and who it is: per pool, never in `defaults`. */
const PER_POOL_KEYS = ['name', 'endpoints', 'host', 'port', 'path', 'tls', 'callbacks'];

/** Option bags that merge one level deep with `defaults`; every other key is taken whole. */
const MERGED_KEYS = ['backoff', 'socketOptions'];

/**
 * Validates the options of `forRoot` (given) or `forRootAsync` (what its
 * factory returned). Every error names its key and never echoes a value.
 */
export function resolveSettings(
  options: unknown,
  origin: string,
  fromFactory: boolean,
  declaredPools?: readonly string[],
): ConnmanSettings {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      fromFactory ? messages.factoryNotAnObject(origin, options) : messages.notAnObject(origin, options),
    );
  }
  const reader = new OptionReader(origin, options);
  reader.onlyKeys(MODULE_KEYS);
  const given = options as ConnmanModuleOptions;

  const pools = given.pools ?? [];
  if (!Array.isArray(pools)) reader.fail('pools', 'an array of pool options (each with a unique name)', pools);
  if (declaredPools !== undefined) {
    const names = pools.map((pool: unknown) =>
      pool !== null && typeof pool === 'object' ? (pool as { name?: unknown }).name : undefined,
    );
    const same = names.length === declaredPools.length && declaredPools.every((name) => names.includes(name));
    if (!same) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        messages.asyncPoolsMismatch(
          [...declaredPools],
          names.map((name) => (typeof name === 'string' ? name : describeKind(name))),
        ),
      );
    }
  }

  const waitForConnections = reader.raw('waitForConnections');
  if (waitForConnections !== undefined && typeof waitForConnections !== 'boolean') {
    const error = invalidOption(origin, 'waitForConnections', 'true or false', waitForConnections);
    throw new ConnmanError('ERR_INVALID_OPTIONS', withStringHint(error.message));
  }

  return {
    origin,
    pools,
    defaults: resolveDefaults(reader, origin),
    waitForConnections: waitForConnections ?? true,
    openTimeoutMillis: millis(reader, 'openTimeoutMillis'),
    shutdownTimeoutMillis: millis(reader, 'shutdownTimeoutMillis') ?? 10_000,
    logger: resolveLogger(reader),
  };
}

/** An integer number of ms from 0, or undefined; a string is refused with a hint, not parsed. */
function millis(reader: OptionReader, key: string): number | undefined {
  const value = reader.raw(key);
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const error = invalidOption(reader.scope, key, `an integer number of ms from 0 to ${MAX_TIMER_MILLIS}`, value);
    throw new ConnmanError('ERR_INVALID_OPTIONS', withStringHint(error.message));
  }
  return reader.int(key, 0, 0, MAX_TIMER_MILLIS);
}

function resolveLogger(reader: OptionReader): ConnmanLogger | undefined {
  const logger = reader.raw('logger');
  if (logger === undefined) return undefined;
  const methods = logger as Record<string, unknown> | null;
  const ok =
    methods !== null &&
    typeof methods === 'object' &&
    typeof methods.error === 'function' &&
    typeof methods.warn === 'function' &&
    ['log', 'debug'].every((m) => methods[m] === undefined || typeof methods[m] === 'function');
  if (!ok) {
    reader.fail(
      'logger',
      'an object with error() and warn() methods (log() and debug() optional), such as a Nest Logger',
      logger,
    );
  }
  return logger as ConnmanLogger;
}

/**
 * Checks `defaults` on their own, as the options of a pool would be (a probe
 * with a placeholder name and endpoint), so that a bad default is reported
 * once, under its own key, before any pool uses it.
 */
function resolveDefaults(reader: OptionReader, origin: string): ConnmanPoolDefaults {
  const defaults = reader.raw('defaults');
  if (defaults === undefined) return {};
  if (defaults === null || typeof defaults !== 'object' || Array.isArray(defaults)) {
    reader.fail('defaults', 'an object of pool options shared by every pool', defaults);
  }
  for (const key of Object.keys(defaults)) {
    if (PER_POOL_KEYS.includes(key)) throw new ConnmanError('ERR_INVALID_OPTIONS', messages.defaultsKey(origin, key));
  }
  try {
    resolvePoolOptions({
      ...permissivePartners(defaults as ConnmanPoolDefaults),
      name: PROBE,
      host: 'localhost',
      port: 1,
    });
  } catch (error) {
    if (!isConnmanError(error)) throw error;
    throw new ConnmanError('ERR_INVALID_OPTIONS', withStringHint(defaultsMessage(origin, error.message)), {
      cause: error,
    });
  }
  return defaults as ConnmanPoolDefaults;
}

const PROBE = 'defaults';

/**
 * `defaults` with the options a default depends on filled in as leniently as
 * they can be, so that the probe judges each default's own value: whether it
 * fits the other options is judged per pool, once merged (`isReply` without
 * `framing` in defaults is fine when every pool gives its framing; a
 * `backoff.maxDelayMillis` below the built-in floor is fine when the pools
 * lower the floor).
 */
function permissivePartners(defaults: ConnmanPoolDefaults): ConnmanPoolDefaults {
  const probe: Record<string, unknown> = { ...defaults };
  if (probe.isReply !== undefined && probe.framing === undefined) probe.framing = lines();
  const backoff = probe.backoff;
  if (backoff !== null && typeof backoff === 'object' && !Array.isArray(backoff)) {
    const given = backoff as Record<string, unknown>;
    probe.backoff = {
      ...given,
      initialDelayMillis: given.initialDelayMillis === undefined ? 1 : given.initialDelayMillis,
      maxDelayMillis: given.maxDelayMillis === undefined ? MAX_TIMER_MILLIS : given.maxDelayMillis,
    };
  }
  return probe as ConnmanPoolDefaults;
}

/** The core's message about the probe, told as one about `defaults.<key>` (or wrapped whole). */
function defaultsMessage(origin: string, message: string): string {
  const invalid = /^Invalid option '([^']+)' for pool 'defaults': ([\s\S]*)$/.exec(message);
  if (invalid) return `Invalid option 'defaults.${invalid[1]}' for ${origin}: ${invalid[2]}`;
  const unknown = /^Unknown option '([^']+)' for pool 'defaults'/.exec(message);
  if (unknown) return messages.defaultsUnknown(origin, unknown[1]);
  return messages.defaultsInvalid(origin, message);
}

/** Adds what to do when a value was refused for being a string (the ConfigService trap). */
export function withStringHint(message: string): string {
  return /got a string\.$/.test(message) ? `${message.slice(0, -1)}${STRING_HINT}.` : message;
}

const STRING_HINT =
  " (ConfigService and process.env give strings: convert numbers with Number() and booleans with === 'true')";

/**
 * A pool's options on top of the defaults: the pool's keys win, `undefined`
 * ones excepted; `backoff` and `socketOptions` merge one level deep.
 */
export function mergePoolOptions<T extends object>(defaults: Readonly<ConnmanPoolDefaults>, own: T): T {
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(own)) {
    if (value === undefined) continue;
    const base = merged[key];
    merged[key] =
      MERGED_KEYS.includes(key) && isPlainObject(base) && isPlainObject(value) ? { ...base, ...value } : value;
  }
  return merged as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
