import { types } from 'node:util';

/**
 * The codes a {@link ConnmanError} may carry. The first ten are part of the
 * public contract; the rest describe why a connection was lost.
 */
export type ConnmanErrorCode =
  | 'ERR_ACQUIRE_TIMEOUT'
  | 'ERR_ACQUIRE_ABORTED'
  | 'ERR_POOL_CLOSED'
  | 'ERR_TOO_MANY_WAITERS'
  | 'ERR_NOT_LEASED'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_NO_CONNECTION'
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_UNKNOWN_POOL'
  | 'ERR_DUPLICATE_POOL'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_READ_IDLE_TIMEOUT'
  | 'ERR_VALIDATION_FAILED'
  | 'ERR_DISCONNECTED';

/** Extra facts attached to a {@link ConnmanError}. */
export interface ConnmanErrorDetails {
  /** Name of the pool the error concerns, when there is one. */
  pool?: string;
  /** The underlying error (a socket error, the last connect failure, ...). */
  cause?: unknown;
}

/**
 * The one error class of the library. `code` tells what happened, `pool`
 * which pool it concerns, `cause` what lies underneath.
 */
export class ConnmanError extends Error {
  /** A stable, machine-readable code; see {@link ConnmanErrorCode}. */
  readonly code: ConnmanErrorCode;
  /** The pool's name, when the error concerns a pool. */
  readonly pool: string | undefined;

  constructor(code: ConnmanErrorCode, message: string, details: ConnmanErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ConnmanError';
    this.code = code;
    this.pool = details.pool;
  }
}

/** True when `error` is a {@link ConnmanError}, optionally with the given code. */
export function isConnmanError(error: unknown, code?: ConnmanErrorCode): error is ConnmanError {
  return error instanceof ConnmanError && (code === undefined || error.code === code);
}

/** Short, secret-free description of an error for log lines and messages. */
export function describeError(error: unknown): string {
  if (isError(error)) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** `instanceof Error` that also holds for errors made in another realm (a VM context, a worker). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** `value` as an Error, wrapping anything else that was thrown. */
export function toError(value: unknown): Error {
  return isError(value) ? value : new Error(String(value));
}
