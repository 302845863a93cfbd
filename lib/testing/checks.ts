import { isIP } from 'node:net';
import { ConnmanError } from '../core/errors.js';

/** The largest delay `setTimeout` honours (about 24.8 days). */
export const MAX_DELAY_MILLIS = 2_147_483_647;

/** The options error of the testing kit: names the option, says what was expected and what came. */
export function invalidOption(scope: string, option: string, expected: string, got: unknown): ConnmanError {
  return new ConnmanError(
    'ERR_INVALID_OPTIONS',
    `Invalid option '${option}' for ${scope}: expected ${expected}, got ${describe(got)}.`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return String(value);
    case 'function':
      return 'a function';
    default:
      return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
  }
}

/** Refuses keys that are not in `known`, so that a misspelt option is never silently ignored. */
export function onlyKnownKeys(scope: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Unknown option '${key}' for ${scope}; known options: ${known.join(', ')}.`,
      );
    }
  }
}

/** `options` itself: undefined or a plain object. */
export function optionsObject(scope: string, name: string, options: unknown): object {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidOption(scope, name, 'an object', options);
  }
  return options;
}

/** A loopback host to listen on: any 127.0.0.0/8 address, `::1`, or `localhost` (as 127.0.0.1). */
export function loopbackHost(scope: string, option: string, host: unknown): string {
  if (host === undefined || host === 'localhost') return '127.0.0.1';
  if (typeof host === 'string') {
    if (isIP(host) === 4 && host.startsWith('127.')) return host;
    if (isIP(host) === 6 && new URL(`http://[${host}]/`).hostname === '[::1]') return host;
  }
  throw invalidOption(
    scope,
    option,
    'a loopback address (127.0.0.1, another 127.x.y.z, ::1 or localhost): the testing kit never listens beyond this machine',
    host,
  );
}

/** A TCP port to listen on: 0 (any free port) to 65535. */
export function listenPort(scope: string, option: string, port: unknown): number {
  if (port === undefined) return 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidOption(scope, option, 'an integer from 0 to 65535 (0: any free port)', port);
  }
  return port;
}

/** A positive integer (a connection count, a chunk size). */
export function positiveInteger(scope: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(scope, option, 'an integer >= 1', value);
  }
  return value;
}

/** A delay in milliseconds: a finite number from 0 to about 24.8 days. */
export function delayMillis(scope: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MILLIS) {
    throw invalidOption(scope, option, `a number of milliseconds from 0 to ${MAX_DELAY_MILLIS}`, value);
  }
  return value;
}

/** A boolean, nothing else (no truthy strings). */
export function bool(scope: string, option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidOption(scope, option, 'true or false', value);
  return value;
}

/** An optional AbortSignal. */
export function optionalSignal(scope: string, option: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw invalidOption(scope, option, 'an AbortSignal', value);
}
