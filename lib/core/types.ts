import type { Socket, TcpNetConnectOpts } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions, TLSSocket } from 'node:tls';

/** TLS options for an endpoint: `true` for defaults, or Node's `tls.connect` options. */
export type EndpointTls = boolean | TlsConnectionOptions;

/** A TCP endpoint. */
export interface TcpEndpoint {
  host: string;
  port: number;
  path?: undefined;
  /** Connect with TLS. Certificate verification stays on unless you turn it off. */
  tls?: EndpointTls;
}

/** A Unix domain socket (or Windows named pipe) endpoint. */
export interface IpcEndpoint {
  path: string;
  host?: undefined;
  port?: undefined;
  tls?: EndpointTls;
}

/** Where a connection goes. */
export type Endpoint = TcpEndpoint | IpcEndpoint;

/** The live socket of a connection: plain TCP / IPC, or TLS. */
export type ConnmanSocket = Socket | TLSSocket;

/**
 * Socket options passed through to `net.connect` / `tls.connect`, except the
 * ones the library owns (where to connect, and its timeouts).
 */
export type SocketPassThroughOptions = Omit<
  TcpNetConnectOpts,
  'host' | 'port' | 'path' | 'timeout' | 'noDelay' | 'keepAlive' | 'keepAliveInitialDelay'
>;

/** Reconnect schedule: exponential backoff with jitter and a floor. */
export interface BackoffOptions {
  /** The floor and the base of the schedule, in ms (>= 1). Default 100. */
  initialDelayMillis?: number;
  /** The cap, in ms. Default 10000. */
  maxDelayMillis?: number;
  /** Growth per failed attempt (>= 1). Default 2. */
  factor?: number;
  /**
   * Share of the window that is random, from 0 (no jitter: always the
   * ceiling) to 1 (full jitter: uniform between the floor and the ceiling).
   * Default 1.
   */
  jitter?: number;
  /**
   * A connection that stayed up at least this long resets the schedule to
   * its start, in ms. Default 3000.
   */
  resetAfterMillis?: number;
}

/** Context handed to every callback and handler as the second argument. */
export interface ConnectionContext {
  /** Name of the pool the connection belongs to, if any. */
  readonly pool: string | undefined;
  /** The connection that produced the event. */
  readonly connection: import('./persistent-connection.js').PersistentConnection;
  /** The endpoint the connection is (or was last) attached to. */
  readonly endpoint: Endpoint;
}

/** Called once when a reset's connection is back, instead of the connect callbacks. */
export type ResumeFunction = (socket: ConnmanSocket, context: ConnectionContext) => unknown;

/**
 * Callbacks of a persistent connection (connman's names). Every callback gets
 * a {@link ConnectionContext} as its last argument.
 */
export interface ConnectionCallbacks {
  /** The first connection, and every reconnection after a reset that returned no resume function. */
  onConnect?(socket: ConnmanSocket, context: ConnectionContext): unknown;
  /** Every chunk read from the socket, in order. */
  onData?(data: Buffer, context: ConnectionContext): unknown;
  /**
   * The connection was lost. Return a function (or a promise of one) to have
   * it called once when the connection is back, instead of `onConnect` and
   * `onReconnect`.
   */
  onReset?(
    error: Error,
    context: ConnectionContext,
  ): void | ResumeFunction | undefined | Promise<void | ResumeFunction | undefined>;
  /** Every reconnection after a reset that returned no resume function (after `onConnect`). */
  onReconnect?(socket: ConnmanSocket, context: ConnectionContext): unknown;
}

/** Where log lines go. Nest's `Logger` fits; so does `console`. */
export interface ConnmanLogger {
  error(message: string, ...rest: unknown[]): unknown;
  warn(message: string, ...rest: unknown[]): unknown;
  log?(message: string, ...rest: unknown[]): unknown;
  debug?(message: string, ...rest: unknown[]): unknown;
}

/** Options of one persistent connection. */
export interface ConnectionOptions {
  /** Bound on each connect attempt, DNS and TLS handshake included, in ms. Default 10000. */
  connectTimeoutMillis?: number;
  /** Reconnect schedule. */
  backoff?: BackoffOptions;
  /** A connection that reads nothing for this long is declared dead, in ms. Default off. */
  readIdleTimeoutMillis?: number;
  /** Disable Nagle's algorithm. Default true. */
  noDelay?: boolean;
  /** TCP keepalive. Default true. */
  keepAlive?: boolean;
  /** Idle time before the first keepalive probe, in ms. Default 30000. */
  keepAliveInitialDelayMillis?: number;
  /** Anything else `net.connect` / `tls.connect` takes (`lookup`, `family`, `localAddress`...). */
  socketOptions?: SocketPassThroughOptions;
  /** Where log lines go. Default: `console`, prefixed. */
  logger?: ConnmanLogger;
}
