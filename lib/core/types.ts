import type { Socket, TcpNetConnectOpts } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions, TLSSocket } from 'node:tls';
import type { Framing } from './framing.js';

/**
 * The frame type of a connection or pool, for code that accepts connections
 * and pools whatever their framing (`PersistentConnection<AnyFrame>`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFrame = any;

/** TLS options for an endpoint: `true` for defaults, or Node's `tls.connect` options. */
export type EndpointTls = boolean | TlsConnectionOptions;

/** A TCP endpoint. */
export interface TcpEndpoint {
  /** A host name or an IP address. */
  host: string;
  /** From 1 to 65535. */
  port: number;
  /** Absent: a TCP endpoint has no path. */
  path?: undefined;
  /** Connect with TLS. Certificate verification stays on unless you turn it off. */
  tls?: EndpointTls | undefined;
}

/** A Unix domain socket (or Windows named pipe) endpoint. */
export interface IpcEndpoint {
  /** The socket's path (or a Windows named pipe). */
  path: string;
  /** Absent: an IPC endpoint has no host. */
  host?: undefined;
  /** Absent: an IPC endpoint has no port. */
  port?: undefined;
  /** Connect with TLS over the socket. */
  tls?: EndpointTls | undefined;
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
  initialDelayMillis?: number | undefined;
  /** The cap, in ms. Default 10000. */
  maxDelayMillis?: number | undefined;
  /** Growth per failed attempt (>= 1). Default 2. */
  factor?: number | undefined;
  /**
   * Share of the window that is random, from 0 (no jitter: always the
   * ceiling) to 1 (full jitter: uniform between the floor and the ceiling).
   * Default 1.
   */
  jitter?: number | undefined;
  /**
   * A connection that stayed up at least this long resets the schedule to
   * its start, in ms. Default 3000.
   */
  resetAfterMillis?: number | undefined;
}

/** Context handed to every callback and handler as the second argument. */
export interface ConnectionContext<F = Buffer> {
  /** Name of the pool the connection belongs to, if any. */
  readonly pool: string | undefined;
  /** The connection that produced the event. */
  readonly connection: import('./persistent-connection.js').PersistentConnection<F>;
  /** The endpoint the connection is (or was last) attached to. */
  readonly endpoint: Endpoint;
}

/** What a request writes: bytes, or a string (written as UTF-8). */
export type RequestPayload = string | Buffer | Uint8Array;

/** Options of one `request()`. */
export interface RequestOptions {
  /** Overrides `requestTimeoutMillis` for this call, in ms. */
  timeoutMillis?: number | undefined;
  /** Aborting it rejects the request with ERR_REQUEST_ABORTED. */
  signal?: AbortSignal | undefined;
}

/**
 * The context of a `handshake`: the usual context, plus reading what the
 * peer sends before the connection counts as ready.
 */
export interface HandshakeContext<F = Buffer> extends ConnectionContext<F> {
  /**
   * The next frame the peer sends (the next chunk, without `framing`). What
   * arrives during the handshake goes here, never to `onData`.
   */
  read(): Promise<F>;
  /** Writes `payload`, then resolves with the next frame (`read()`). */
  request(payload: RequestPayload): Promise<F>;
}

/**
 * Makes a fresh socket usable (a greeting, AUTH, CONNECT...). Runs after
 * every connect and reconnect, before the connection counts as connected;
 * a throw or rejection fails the attempt with ERR_HANDSHAKE_FAILED.
 */
export type HandshakeFunction<F = Buffer> = (socket: ConnmanSocket, context: HandshakeContext<F>) => unknown;

/** Keeps idle connections proven alive. */
export interface HeartbeatOptions {
  /**
   * A connection that is not leased and has read and written nothing for
   * this long sends `payload`, in ms.
   */
  intervalMillis: number;
  /** What to send: bytes, a string, or a function returning one (called each time). */
  payload: RequestPayload | (() => RequestPayload);
  /**
   * How long to wait for the answer, in ms (default `intervalMillis`). With
   * `framing` the answer is the reply frame (consumed, not passed to
   * `onData`); without, any bytes read. No answer resets the connection with
   * ERR_HEARTBEAT_TIMEOUT.
   */
  timeoutMillis?: number | undefined;
  /**
   * What counts as idle (Netty's all-idle, writer-idle, reader-idle): `'all'`
   * (default) sends when nothing was read or written for `intervalMillis`;
   * `'write'` when nothing was written, however much is read (MQTT's
   * keepalive counts only what the client sends: a subscriber that only
   * receives must still ping); `'read'` when nothing was read.
   */
  idle?: 'all' | 'write' | 'read' | undefined;
}

/** Called once when a reset's connection is back, instead of the connect callbacks. */
export type ResumeFunction<F = Buffer> = (socket: ConnmanSocket, context: ConnectionContext<F>) => unknown;

/**
 * Callbacks of a persistent connection (connman's names). Every callback gets
 * a {@link ConnectionContext} as its last argument.
 */
export interface ConnectionCallbacks<F = Buffer> {
  /** The first connection, and every reconnection after a reset that returned no resume function. */
  onConnect?(socket: ConnmanSocket, context: ConnectionContext<F>): unknown;
  /**
   * Every chunk read from the socket, in order; with `framing`, every whole
   * frame that does not answer a request.
   */
  onData?(data: F, context: ConnectionContext<F>): unknown;
  /**
   * The connection was lost. Return a function (or a promise of one) to have
   * it called once when the connection is back, instead of `onConnect` and
   * `onReconnect`.
   */
  onReset?(
    error: Error,
    context: ConnectionContext<F>,
  ): void | ResumeFunction<F> | undefined | Promise<void | ResumeFunction<F> | undefined>;
  /** Every reconnection after a reset that returned no resume function (after `onConnect`). */
  onReconnect?(socket: ConnmanSocket, context: ConnectionContext<F>): unknown;
}

/** Where log lines go. Nest's `Logger` fits; so does `console`. */
export interface ConnmanLogger {
  /** A failure: a callback or handler that threw, a pool that could not close. */
  error(message: string, ...rest: unknown[]): unknown;
  /** Something to look at: a lease held past the leak threshold. */
  warn(message: string, ...rest: unknown[]): unknown;
  /** Routine events (a pool closed), when the logger has it. */
  log?(message: string, ...rest: unknown[]): unknown;
  /** Details, when the logger has it. */
  debug?(message: string, ...rest: unknown[]): unknown;
}

/** Options of one persistent connection (and of every connection of a pool). */
export interface ConnectionOptions<F = Buffer> {
  /** Bound on each connect attempt, DNS, TLS and `handshake` included, in ms. Default 10000. */
  connectTimeoutMillis?: number | undefined;
  /** Reconnect schedule. */
  backoff?: BackoffOptions | undefined;
  /** A connection that reads nothing for this long is declared dead, in ms. Default off. */
  readIdleTimeoutMillis?: number | undefined;
  /** Disable Nagle's algorithm. Default true. */
  noDelay?: boolean | undefined;
  /** TCP keepalive. Default true. */
  keepAlive?: boolean | undefined;
  /** Idle time before the first keepalive probe, in ms. Default 30000. */
  keepAliveInitialDelayMillis?: number | undefined;
  /** Anything else `net.connect` takes (`lookup`, `family`, `localAddress`...). TLS options go in the endpoint's `tls`. */
  socketOptions?: SocketPassThroughOptions | undefined;
  /** Where log lines go. Default: `console`, prefixed. */
  logger?: ConnmanLogger | undefined;
  /**
   * Runs after every connect and reconnect; until it settles the connection
   * is not ready (not lent, picked, used by `request()` nor counted as
   * connected). Covered by `connectTimeoutMillis`.
   */
  handshake?: HandshakeFunction<F> | undefined;
  /**
   * Gives each connection a decoder: `onData` then receives whole frames,
   * and `request()` becomes available. See `lines`, `lengthPrefixed`,
   * `fixedLength`.
   */
  framing?: Framing<F> | undefined;
  /**
   * With `framing`: frames for which it returns false (pushes, server pings)
   * go to `onData` instead of answering the oldest unanswered request.
   */
  isReply?: ((frame: F) => boolean) | undefined;
  /** Bound on one `request()`, waiting for a ready connection included, in ms. Default 30000. */
  requestTimeoutMillis?: number | undefined;
  /**
   * Reset a connection on which a request timed out (its replies can no
   * longer be matched to requests). Default true.
   */
  resetOnRequestTimeout?: boolean | undefined;
  /** Keeps idle connections proven alive. Default off. */
  heartbeat?: HeartbeatOptions | undefined;
}
