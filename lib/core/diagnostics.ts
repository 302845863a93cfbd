import * as diagnostics from 'node:diagnostics_channel';
import type { Lease } from './connection-pool.js';
import type { PersistentConnection } from './persistent-connection.js';
import type { AnyFrame } from './types.js';

/**
 * The `diagnostics_channel` names the library publishes on (stable: APM
 * agents and the `prometheus` / `otel` entry points subscribe to them).
 * Nothing is built or published while a channel has no subscriber.
 */
export const CHANNELS = {
  /** A connection is ready (after its handshake): {@link ConnectMessage}. */
  connect: 'connman:connection:connect',
  /** A connect attempt (or its handshake) failed: {@link ConnectErrorMessage}. */
  connectError: 'connman:connection:connectError',
  /** A ready connection was lost: {@link ResetMessage}. */
  reset: 'connman:connection:reset',
  /** A connection was closed for good (`disconnect()`): {@link ConnectionMessage}. */
  close: 'connman:connection:close',
  /** A waiting `acquire()` timed out: {@link AcquireTimeoutMessage}. */
  acquireTimeout: 'connman:pool:acquireTimeout',
  /** A lease was held past `leakDetectionThresholdMillis`: {@link LeakMessage}. */
  leak: 'connman:pool:leak',
  /** Tracing channel of `acquire()`: {@link AcquireTraceContext}. */
  acquire: 'connman:pool:acquire',
  /** Tracing channel of `request()` (pool, lease and connection): {@link RequestTraceContext}. */
  request: 'connman:request',
} as const;

/** What every connection message carries. */
export interface ConnectionMessage {
  /** The pool's name, or `undefined` for a single connection. */
  pool: string | undefined;
  /** `host:port`, `tls://host:port` or `unix:path` (never TLS options). */
  endpoint: string;
  /** The connection the message is about. */
  connection: PersistentConnection<AnyFrame>;
}

/** Published on `connman:connection:connect`. */
export interface ConnectMessage extends ConnectionMessage {
  /** True after a reset, false for the first connection. */
  reconnect: boolean;
  /** From the start of the attempt to ready (DNS, TCP, TLS and handshake), in ms. */
  durationMillis: number;
}

/** Published on `connman:connection:connectError`. */
export interface ConnectErrorMessage extends ConnectionMessage {
  /** Why the attempt failed. */
  error: Error;
  /** Failed attempts in a row, this one included. */
  failures: number;
}

/** Published on `connman:connection:reset`. */
export interface ResetMessage extends ConnectionMessage {
  /** Why the connection was lost. */
  error: Error;
}

/** Published on `connman:pool:acquireTimeout`. */
export interface AcquireTimeoutMessage {
  /** The pool's name. */
  pool: string;
  /** The pool's endpoints, comma-separated. */
  endpoint: string;
  /** The ERR_ACQUIRE_TIMEOUT error the waiter was rejected with. */
  error: Error;
  /** The waiter's timeout, in ms. */
  timeoutMillis: number;
}

/** Published on `connman:pool:leak`. */
export interface LeakMessage {
  /** The pool's name. */
  pool: string;
  /** The leased connection's endpoint. */
  endpoint: string;
  /** The lease held too long. */
  lease: Lease<AnyFrame>;
  /** The threshold that was passed, in ms. */
  heldMillis: number;
  /** Where the lease was acquired. */
  stack: string;
}

/**
 * The context of the `connman:pool:acquire` tracing channel (`start`, `end`,
 * `asyncStart`, `asyncEnd`, `error`); `result` or `error` is set when it settles.
 */
export interface AcquireTraceContext {
  /** The pool's name. */
  pool: string;
  /** The pool's endpoints, comma-separated. */
  endpoint: string;
  /** The lease, once granted. */
  result?: Lease<AnyFrame>;
  /** The error, once rejected. */
  error?: unknown;
}

/** The context of the `connman:request` tracing channel. */
export interface RequestTraceContext {
  /** The pool's name, or `undefined` for a single connection. */
  pool: string | undefined;
  /** The pool's endpoints (comma-separated), or the connection's endpoint. */
  endpoint: string;
  /** Bytes of the payload (its UTF-8 length for a string). */
  payloadBytes: number;
  /** The reply frame, once answered. */
  result?: unknown;
  /** The error, once rejected. */
  error?: unknown;
}

/** @internal */ export const connectChannel = diagnostics.channel(CHANNELS.connect);
/** @internal */ export const connectErrorChannel = diagnostics.channel(CHANNELS.connectError);
/** @internal */ export const resetChannel = diagnostics.channel(CHANNELS.reset);
/** @internal */ export const closeChannel = diagnostics.channel(CHANNELS.close);
/** @internal */ export const acquireTimeoutChannel = diagnostics.channel(CHANNELS.acquireTimeout);
/** @internal */ export const leakChannel = diagnostics.channel(CHANNELS.leak);
/** @internal */ export const acquireTracing = diagnostics.tracingChannel<object, AcquireTraceContext>(
  CHANNELS.acquire,
);
/** @internal */ export const requestTracing = diagnostics.tracingChannel<object, RequestTraceContext>(
  CHANNELS.request,
);

/** @internal The size of a payload, for trace contexts. */
export function payloadBytes(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
}
