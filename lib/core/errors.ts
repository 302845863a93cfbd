import { types } from 'node:util';

/**
 * The codes a {@link ConnmanError} may carry. All are stable: code against
 * them, never against messages.
 */
export type ConnmanErrorCode =
  // Leases and pools.
  | 'ERR_ACQUIRE_TIMEOUT'
  | 'ERR_ACQUIRE_ABORTED'
  | 'ERR_POOL_CLOSED'
  | 'ERR_TOO_MANY_WAITERS'
  | 'ERR_NOT_LEASED'
  | 'ERR_NO_CONNECTION'
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_UNKNOWN_POOL'
  | 'ERR_DUPLICATE_POOL'
  // Connecting and readiness.
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_CONNECT_FAILED'
  | 'ERR_HANDSHAKE_FAILED'
  // Why a connection was lost.
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_READ_IDLE_TIMEOUT'
  | 'ERR_HEARTBEAT_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_VALIDATION_FAILED'
  | 'ERR_DISCONNECTED'
  // Requests.
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_REQUEST_ABORTED';

/** Extra facts attached to a {@link ConnmanError}. */
export interface ConnmanErrorDetails {
  /** Name of the pool the error concerns, when there is one. */
  pool?: string | undefined;
  /** The underlying error (a socket error, the last connect failure, ...). */
  cause?: unknown | undefined;
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
  let text = String(error);
  if (isError(error)) {
    const code = (error as NodeJS.ErrnoException).code;
    text = code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  // Callers end their sentences themselves: no "disabled.." when the described error ends in a full stop.
  return text.replace(/\.+$/, '');
}

/** `instanceof Error` that also holds for errors made in another realm (a VM context, a worker). */
export function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** `value` as an Error, wrapping anything else that was thrown. */
export function toError(value: unknown): Error {
  return isError(value) ? value : new Error(String(value));
}
