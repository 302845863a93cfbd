import type { AnyFrame } from './types.js';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { inspect } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Backoff } from './backoff.js';
import {
  closeChannel,
  connectChannel,
  connectErrorChannel,
  payloadBytes,
  requestTracing,
  resetChannel,
} from './diagnostics.js';
import { ConnmanError, describeError, isConnmanError, isError, toError } from './errors.js';
import type { FrameDecoder } from './framing.js';
import {
  CONNECTION_OPTION_KEYS,
  isOptionBag,
  readingOptions,
  MAX_TIMER_MILLIS,
  OptionReader,
  checkEndpoint,
  copyAll,
  describeEndpoint,
  isPayload,
  resolveConnectionOptions,
  type ResolvedConnectionOptions,
} from './options.js';
import { Timekeeper, promiseOf } from './pending.js';
import { Fifo, Request, inFlightEverywhere, type InFlight } from './requests.js';
import type {
  ConnectionCallbacks,
  ConnectionContext,
  ConnectionOptions,
  ConnmanSocket,
  Endpoint,
  HandshakeContext,
  RequestOptions,
  RequestPayload,
  ResumeFunction,
} from './types.js';
import { WaitQueue } from './wait-queue.js';

/**
 * Where a connection is in its life: not started, connecting, running its
 * handshake, connected (ready), waiting out a backoff delay, or closed for good.
 */
export type ConnectionState = 'idle' | 'connecting' | 'handshaking' | 'connected' | 'backoff' | 'closed';

/** Typed events of a {@link PersistentConnection}. */
export interface ConnectionEvents<F = Buffer> {
  /** The first connection is up and ready (after the handshake, if any). */
  connect: [socket: ConnmanSocket];
  /** The connection is up and ready again after a reset. */
  reconnect: [socket: ConnmanSocket];
  /** A chunk was read (raw bytes, with or without framing). */
  data: [chunk: Buffer];
  /** With `framing`: a whole frame that answers no request (what `onData` receives). */
  frame: [frame: F];
  /** A ready connection was lost; a reconnect is scheduled. */
  reset: [error: Error];
  /** A connect attempt (or its handshake) failed; another is scheduled. */
  connectError: [error: Error];
  /** A user callback threw or rejected (without a listener, it is logged). */
  error: [error: Error];
  /** `disconnect()` finished: the socket is closed and nothing is scheduled. */
  close: [];
}

/** @internal What a pool learns from the connections it owns. */
export interface ConnectionOwner {
  readonly poolName: string | undefined;
  /** The connection is ready (after its handshake and its connect callbacks). */
  connectionUp(connection: PersistentConnection<AnyFrame>, first: boolean): void;
  /** A ready connection was lost; called before the reset callbacks run. */
  connectionLost(connection: PersistentConnection<AnyFrame>): void;
  /** After a loss (and its callbacks) or a failed attempt: decide what becomes of it. */
  connectionDown(
    connection: PersistentConnection<AnyFrame>,
    error: Error,
    wasConnected: boolean,
    endpoint: Endpoint,
  ): void;
  callbackFailed(connection: PersistentConnection<AnyFrame>, error: unknown, callback: string): void;
  /** May this idle connection send a heartbeat now? (Never while leased; not lent while true.) */
  heartbeatStart(connection: PersistentConnection<AnyFrame>): boolean;
  heartbeatEnd(connection: PersistentConnection<AnyFrame>): void;
  /** `disconnect()` was called (by the owner itself, or by someone else: then it replaces it). */
  connectionClosed(connection: PersistentConnection<AnyFrame>): void;
}

/** @internal Settings a pool passes to the connections it creates (already validated). */
export interface InternalConnectionSettings {
  resolved: ResolvedConnectionOptions;
  owner?: ConnectionOwner;
  /** The pool's request clock, shared by its connections. */
  clock?: Timekeeper;
  /** Index of the first endpoint to try, so that a pool spreads its connections. */
  endpointOffset?: number;
  random?: () => number;
}

interface CallbackEntry<F> {
  readonly callbacks: ConnectionCallbacks<F>;
  resume: ResumeFunction<F> | Promise<ResumeFunction<F> | undefined> | undefined;
}

/** The context of every callback: never shows TLS or socket options. */
class Context<F> implements ConnectionContext<F> {
  constructor(
    readonly pool: string | undefined,
    readonly connection: PersistentConnection<F>,
    public endpoint: Endpoint,
  ) {}

  toJSON(): object {
    return { pool: this.pool, endpoint: describeEndpoint(this.endpoint) };
  }

  [inspect.custom](): string {
    return `ConnectionContext(${this.pool === undefined ? '' : `pool '${this.pool}', `}${describeEndpoint(this.endpoint)})`;
  }
}

/** The context of one handshake: reads what arrives until the handshake settles. */
class HandshakeRun<F> implements HandshakeContext<F> {
  readonly frames: F[] = [];
  private readers: { resolve: (frame: F) => void; reject: (error: Error) => void }[] = [];
  private over: Error | undefined;

  constructor(
    readonly connection: PersistentConnection<F>,
    private readonly socket: ConnmanSocket,
    readonly pool: string | undefined,
    readonly endpoint: Endpoint,
  ) {}

  read(): Promise<F> {
    if (this.frames.length !== 0) return Promise.resolve(this.frames.shift()!);
    if (this.over !== undefined) return Promise.reject(this.over);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  request(payload: RequestPayload): Promise<F> {
    if (!isPayload(payload)) {
      return Promise.reject(
        new ConnmanError(
          'ERR_INVALID_OPTIONS',
          'Invalid payload for the handshake context request(): expected a non-empty string, Buffer or Uint8Array.',
          { pool: this.pool },
        ),
      );
    }
    if (this.over !== undefined) return Promise.reject(this.over);
    this.socket.write(payload);
    return this.read();
  }

  push(frame: F): void {
    const reader = this.readers.shift();
    if (reader !== undefined) reader.resolve(frame);
    else this.frames.push(frame);
  }

  /** The attempt ended (failure, timeout, disconnect, or success): pending and later reads reject. */
  end(error: Error): void {
    this.over = error;
    const readers = this.readers;
    this.readers = [];
    for (const reader of readers) reader.reject(error);
  }

  toJSON(): object {
    return { pool: this.pool, endpoint: describeEndpoint(this.endpoint) };
  }

  [inspect.custom](): string {
    return `HandshakeContext(${this.pool === undefined ? '' : `pool '${this.pool}', `}${describeEndpoint(this.endpoint)})`;
  }
}

/** With framing, a heartbeat is a request whose reply the connection consumes. */
class HeartbeatProbe implements InFlight<unknown> {
  settled = false;
  seq = 0;
  constructor(
    private readonly connection: PersistentConnection<AnyFrame>,
    private readonly generation: number,
  ) {}
  answer(): void {
    if (this.settled) return;
    this.settled = true;
    this.connection.requestSettled(this.generation);
    this.connection.heartbeatAnswered();
  }
  fail(): void {
    if (this.settled) return;
    this.settled = true;
    this.connection.requestSettled(this.generation);
  }
}

const CONNECTION_KEYS: readonly string[] = CONNECTION_OPTION_KEYS;
const CALLBACK_KEYS = ['onConnect', 'onData', 'onReset', 'onReconnect'] as const;
const REQUEST_OPTION_KEYS = ['timeoutMillis', 'signal'];
const LINGER_MILLIS = 1000;
/** Frames a handshake may leave unread before the peer counts as flooding it. */
const MAX_UNREAD_HANDSHAKE_FRAMES = 10_000;

/*
 * Socket listeners and timer callbacks are module-level functions that find
 * their connection through a symbol on the socket (or an argument): no
 * closures per socket, whatever the number of connections and reconnections.
 */
const kOwner = Symbol('connman.connection');
type OwnedSocket = ConnmanSocket & { [kOwner]: PersistentConnection<AnyFrame> };

function onSocketReady(this: OwnedSocket): void {
  this[kOwner].socketReady(this);
}
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kOwner].socketData(this, chunk);
}
function onSocketError(this: OwnedSocket, error: Error): void {
  this[kOwner].socketFailed(this, error);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kOwner].socketEnded(this);
}
function onSocketClose(this: OwnedSocket): void {
  this[kOwner].socketClosed(this);
}
function onConnectTimeout(connection: PersistentConnection<AnyFrame>): void {
  connection.connectTimedOut();
}
function onRetryDue(connection: PersistentConnection<AnyFrame>): void {
  connection.retryDue();
}
function onHeartbeatDue(connection: PersistentConnection<AnyFrame>): void {
  connection.heartbeatDue();
}
function onHeartbeatTimeout(connection: PersistentConnection<AnyFrame>): void {
  connection.heartbeatTimedOut();
}
function uncork(connection: PersistentConnection<AnyFrame>, socket: ConnmanSocket): void {
  connection.corked = false;
  socket.uncork();
}

/** The queues of every connection without framing: they never hold anything. */
const NO_WAITING = new WaitQueue<Request<unknown>>();
const NO_INFLIGHT = new Fifo<InFlight<unknown>>();
NO_WAITING.push =
  NO_WAITING.unshift =
  NO_INFLIGHT.push =
    () => {
      throw new Error('connman: a request on a connection without framing (a bug of the library)');
    };

/** Settings of a connection being built by a pool (see `createPooledConnection`). */
let building: InternalConnectionSettings | undefined;

/**
 * @internal Builds a connection owned by a pool, with the pool's validated
 * options, clock and bookkeeping.
 */
export function createPooledConnection<F>(
  endpoints: readonly Endpoint[],
  settings: InternalConnectionSettings,
): PersistentConnection<F> {
  building = settings;
  try {
    return new PersistentConnection<F>(endpoints);
  } finally {
    building = undefined;
  }
}

/**
 * One socket kept alive to one endpoint (or several, in fail-over order).
 * On any loss it reports a reset and reconnects with exponential backoff and
 * jitter; `disconnect()` ends it for good.
 *
 * Optionally protocol-ready: a `handshake` runs before the connection counts
 * as connected, `framing` turns chunks into frames, `request()` matches
 * replies to requests in write order, and a `heartbeat` keeps idle
 * connections proven alive.
 *
 * Callbacks get connman's names (`onConnect`, `onData`, `onReset`,
 * `onReconnect`); the same happenings are typed events.
 */
export class PersistentConnection<F = Buffer> extends EventEmitter<ConnectionEvents<F>> {
  /** @internal */ readonly options: ResolvedConnectionOptions;
  private readonly endpoints: readonly Endpoint[];
  private readonly owner: ConnectionOwner | undefined;
  private readonly backoff: Backoff;
  private readonly entries: CallbackEntry<F>[] = [];
  private readonly context: Context<F>;
  private readonly clock: Timekeeper;
  private readonly ownClock: boolean;
  /** Requests waiting for the connection to be ready (a shared empty one without framing). */
  private readonly waiting: WaitQueue<Request<F>>;
  /** Requests (and heartbeat probes) written and not yet answered, in write order (idem). */
  private readonly inflight: Fifo<InFlight<F>>;
  /** Sockets not yet closed: the current one, and lost ones still closing. */
  private openSockets = 0;
  private endpointIndex: number;
  private roundFailures = 0;
  private connectionState: ConnectionState = 'idle';
  /** The socket of the current attempt or connection. */
  private current: ConnmanSocket | undefined;
  /** The current socket, once ready. */
  private live: ConnmanSocket | undefined;
  /** Counts sockets, so that a late event of an old one is told apart. */
  private generation = 0;
  private decoder: FrameDecoder<F> | undefined;
  private handshakeRun: HandshakeRun<F> | undefined;
  private everConnected = false;
  private connectedAt = 0;
  private readonly tracksReads: boolean;
  private lastReadAt = 0;
  private attemptTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  /** Without framing, a heartbeat is answered by any bytes: waiting for them. */
  private heartbeatAwaitsBytes = false;
  private lastWrittenMark = 0;
  /** When a write was last seen (through the socket's byte count), for the heartbeat. */
  private lastWriteAt = 0;
  /** Requests (and heartbeat probes) written so far: each gets the next number, its `seq`. */
  private sentCount = 0;
  /** @internal Writes are corked until the end of this tick or turn of the event loop (see `write`). */
  corked = false;
  /** Requests (and heartbeat probes) written and not yet settled: the in-flight queue less its settled entries. */
  private unsettled = 0;
  /** @internal True while {@link recycle} reports its reset (the loss is not the peer's doing). */
  recycling = false;
  /** @internal Called each time the last unsettled request settles (set by the pool that owns the connection). */
  onDrained: (() => void) | undefined = undefined;
  private closed: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private failure: Error | undefined;
  private attemptsMade = 0;
  private retryDueAt = 0;
  private attemptStartedAt = 0;
  /** A sibling's connect shortened this connection's delay since it was last stable (see `retrySoon`). */
  private hurried = false;

  /**
   * @param endpoint where to connect; several endpoints are tried in turn (fail-over)
   * @param callbacks connman's callbacks, all optional
   * @param options timeouts, backoff, socket options, and the protocol options
   *   (`handshake`, `framing`, `isReply`, `heartbeat`, `requestTimeoutMillis`...)
   */
  constructor(
    endpoint: Endpoint | readonly Endpoint[],
    callbacks?: ConnectionCallbacks<F>,
    options?: ConnectionOptions<F>,
  ) {
    super();
    const internal = building;
    building = undefined;
    if (internal) {
      this.endpoints = Array.isArray(endpoint) ? endpoint : [endpoint];
      this.options = internal.resolved;
    } else {
      const checked = readingOptions('a persistent connection', undefined, () =>
        checkConnectionArguments(endpoint, callbacks, options),
      );
      this.endpoints = checked.endpoints;
      this.options = checked.options;
    }
    this.owner = internal?.owner;
    this.clock = internal?.clock ?? new Timekeeper(this.options.requestTimeoutMillis);
    this.ownClock = internal?.clock === undefined;
    this.backoff = new Backoff(this.options.backoff, internal?.random);
    this.endpointIndex = (internal?.endpointOffset ?? 0) % this.endpoints.length;
    this.context = new Context<F>(this.owner?.poolName, this, this.endpoints[this.endpointIndex]);
    this.tracksReads = this.options.readIdleTimeoutMillis !== 0 || this.options.heartbeat !== undefined;
    // Requests need framing: without it, nothing is ever queued, and the queues are shared empty ones.
    const framed = this.options.framing !== undefined;
    this.waiting = framed ? new WaitQueue<Request<F>>() : (NO_WAITING as WaitQueue<Request<F>>);
    this.inflight = framed ? new Fifo<InFlight<F>>() : (NO_INFLIGHT as Fifo<InFlight<F>>);
    if (callbacks !== undefined) this.entries.push({ callbacks, resume: undefined });
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.connectionState;
  }

  /** True while connected and ready (its handshake, if any, succeeded). */
  get connected(): boolean {
    return this.connectionState === 'connected';
  }

  /** The live socket while connected, otherwise `undefined`. Yours to write to and configure. */
  get socket(): ConnmanSocket | undefined {
    return this.live;
  }

  /** The endpoint of the current (or last) attempt. */
  get endpoint(): Endpoint {
    return this.context.endpoint;
  }

  /** The error of the last failed attempt or loss, cleared by a successful connect. */
  get lastError(): Error | undefined {
    return this.failure;
  }

  /** Connect attempts made so far, the first one included. */
  get attempts(): number {
    return this.attemptsMade;
  }

  /** Failed attempts since the connection was last up (the backoff position). */
  get failedAttempts(): number {
    return this.backoff.attempts;
  }

  /**
   * Requests written and not yet answered (a heartbeat in flight included,
   * and requests that timed out or were aborted while their late replies may
   * still come). A pool lends a connection only when this is 0, so that a
   * borrower never reads a reply meant for someone else.
   */
  get pendingRequests(): number {
    return this.inflight.size;
  }

  /** @internal The pool's name, for requests made on this connection. */
  get poolName(): string | undefined {
    return this.context.pool;
  }

  /** @internal The last connect error, for requests that never found this connection ready. */
  get lastConnectError(): Error | undefined {
    return this.failure;
  }

  /**
   * Adds a set of callbacks (connman's keys). Each set keeps its own resume
   * function. Returns a function that removes the set.
   */
  addCallbacks(callbacks: ConnectionCallbacks<F>): () => void {
    checkCallbacks(callbacks);
    const entry: CallbackEntry<F> = { callbacks, resume: undefined };
    this.entries.push(entry);
    return () => this.removeCallbacks(callbacks);
  }

  /** @internal Removes a set of callbacks added with `addCallbacks` (by identity). */
  removeCallbacks(callbacks: ConnectionCallbacks<F>): void {
    const index = this.entries.findIndex((entry) => entry.callbacks === callbacks);
    if (index >= 0) this.entries.splice(index, 1);
  }

  /** Starts connecting (once; later calls do nothing). Returns `this`. */
  connect(): this {
    if (this.connectionState === 'idle') this.attempt();
    return this;
  }

  /**
   * Resolves when the connection is up and ready, or rejects after
   * `timeoutMillis` with ERR_CONNECT_TIMEOUT (the last connect error as
   * cause) or when it is disconnected. Starts connecting if needed.
   */
  waitUntilConnected(timeoutMillis = this.options.connectTimeoutMillis): Promise<ConnmanSocket> {
    if (
      typeof timeoutMillis !== 'number' ||
      !Number.isInteger(timeoutMillis) ||
      timeoutMillis < 0 ||
      timeoutMillis > MAX_TIMER_MILLIS
    ) {
      return Promise.reject(
        new ConnmanError(
          'ERR_INVALID_OPTIONS',
          `Invalid argument 'timeoutMillis' of waitUntilConnected(): expected an integer from 0 to ${MAX_TIMER_MILLIS}, got ${typeof timeoutMillis === 'number' ? timeoutMillis : typeof timeoutMillis}.`,
          { pool: this.context.pool },
        ),
      );
    }
    this.connect();
    if (this.live !== undefined) return Promise.resolve(this.live);
    if (this.connectionState === 'closed') return Promise.reject(this.disconnectedError());
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('connect', onUp).off('reconnect', onUp).off('close', onClose);
      };
      const onUp = (socket: ConnmanSocket): void => {
        done();
        resolve(socket);
      };
      const onClose = (): void => {
        done();
        reject(this.disconnectedError());
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new ConnmanError(
            'ERR_CONNECT_TIMEOUT',
            `Could not connect to ${describeEndpoint(this.endpoint)} within ${timeoutMillis} ms` +
              (this.failure ? ` (last error: ${describeError(this.failure)})` : '') +
              '; check that the peer is up, or raise the timeout.',
            { pool: this.context.pool, cause: this.failure },
          ),
        );
      }, timeoutMillis);
      this.on('connect', onUp).on('reconnect', onUp).on('close', onClose);
    });
  }

  /**
   * Writes `payload` on the ready connection and resolves with the frame that
   * answers it (replies are matched to requests in write order). Needs
   * `framing`. Waits for the connection to be ready, within the deadline
   * (`requestTimeoutMillis` or `timeoutMillis`): past it, ERR_REQUEST_TIMEOUT
   * (and, for a written request, the connection is reset unless
   * `resetOnRequestTimeout` is false); an aborted signal gives
   * ERR_REQUEST_ABORTED; a reset fails every unanswered request at once with
   * ERR_CONNECTION_CLOSED.
   */
  request(payload: RequestPayload, options?: RequestOptions): Promise<F> {
    if (!requestTracing.hasSubscribers) return this.requestNow(payload, options);
    const context = {
      pool: this.context.pool,
      endpoint: describeEndpoint(this.context.endpoint),
      payloadBytes: isPayload(payload) ? payloadBytes(payload) : 0,
    };
    return requestTracing.tracePromise(this.requestNow, context, this, payload, options);
  }

  private requestNow(payload: RequestPayload, options?: RequestOptions): Promise<F> {
    let timeoutMillis = this.options.requestTimeoutMillis;
    let signal: AbortSignal | undefined;
    try {
      checkRequest(payload, this.options, this.context.pool);
      if (options !== undefined) {
        ({ timeoutMillis, signal } = readRequestOptions(options, timeoutMillis, this.context.pool));
      }
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.connectionState === 'closed') return Promise.reject(this.requestRefused());
    const request = new Request<F>(payload, signal, timeoutMillis, this.clock, this);
    const promise = promiseOf(request);
    if (signal?.aborted) {
      request.abort(signal.reason);
      return promise;
    }
    request.start();
    if (this.live !== undefined && this.waiting.size === 0) {
      this.send(request);
    } else {
      request.wait(this.waiting);
      this.connect();
    }
    return promise;
  }

  /**
   * Drops the current socket as a reset (callbacks run at once, then it
   * reconnects after the backoff delay). During a connect attempt, fails the
   * attempt. Does nothing when there is no socket.
   */
  reset(error?: Error): void {
    if (error !== undefined && !isError(error)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid argument of reset(): expected an Error or nothing.`, {
        pool: this.context.pool,
      });
    }
    const socket = this.current;
    if (socket === undefined || this.connectionState === 'closed') return;
    this.lose(
      socket,
      error ??
        new ConnmanError(
          'ERR_CONNECTION_CLOSED',
          `Connection to ${describeEndpoint(this.endpoint)} was reset on request.`,
          { pool: this.context.pool },
        ),
    );
  }

  /**
   * @internal Resets the connection for a reason that says nothing of the
   * peer (the pool wants a clean connection): reported like any reset, then
   * reconnected at once, without growing the backoff.
   */
  recycle(error: Error): void {
    this.recycling = true;
    try {
      this.reset(error);
    } finally {
      this.recycling = false;
    }
  }

  /**
   * Ends the connection for good: no reconnect, every timer cleared, the
   * socket closed (pending writes get up to one second to flush), unanswered
   * and waiting requests rejected with ERR_CONNECTION_CLOSED. No callback runs
   * after it. Resolves once the socket is closed.
   */
  disconnect(): Promise<void> {
    if (this.connectionState === 'closed') return this.closed ?? Promise.resolve();
    // A socket its user destroyed or ended is a loss: report it before closing for good.
    this.checkSocket();
    if ((this.connectionState as ConnectionState) === 'closed') return this.closed ?? Promise.resolve();
    this.connectionState = 'closed';
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.current;
    const wasLive = socket !== undefined && socket === this.live;
    this.current = this.live = undefined;
    this.clearSocketTimers();
    const error = this.disconnectedError();
    if (this.handshakeRun !== undefined) {
      this.handshakeRun.end(error);
      this.handshakeRun = undefined;
    }
    this.failInFlight(error, 'the connection was disconnected');
    let waiting: Request<F> | undefined;
    while ((waiting = this.waiting.first) !== undefined) waiting.fail(this.requestRefused());
    if (this.ownClock) this.clock.stopIfIdle();
    this.decoder = undefined;
    if (socket !== undefined) {
      if (wasLive && socket.writableLength > 0 && !socket.writableEnded) {
        socket.end();
        this.lingerTimer = setTimeout(() => socket.destroy(), LINGER_MILLIS);
      } else {
        socket.destroy();
      }
    }
    if (this.openSockets === 0) {
      this.closed = Promise.resolve();
      this.emitClose();
    } else {
      this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    }
    const closed = this.closed;
    this.owner?.connectionClosed(this);
    return closed;
  }

  // ---- connecting ---------------------------------------------------------------

  private attempt(): void {
    this.retryTimer = undefined;
    const endpoint = this.endpoints[this.endpointIndex];
    this.context.endpoint = endpoint;
    this.connectionState = 'connecting';
    this.attemptsMade++;
    this.attemptStartedAt = performance.now();
    this.generation++;
    let socket: OwnedSocket;
    try {
      socket = this.openSocket(endpoint) as OwnedSocket;
    } catch (error) {
      // Options that net/tls reject synchronously: a failed attempt like any other.
      this.afterLoss(toError(error), endpoint, false, true);
      return;
    }
    socket[kOwner] = this;
    this.current = socket;
    this.openSockets++;
    // on(), not once(): each fires once per socket anyway, and once() allocates a wrapper per listener.
    socket.on(endpoint.tls ? 'secureConnect' : 'connect', onSocketReady);
    socket.on('error', onSocketError);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('data', onSocketData);
    this.attemptTimer = setTimeout(onConnectTimeout, this.options.connectTimeoutMillis, this);
  }

  private openSocket(endpoint: Endpoint): ConnmanSocket {
    const o = this.options;
    const where = endpoint.path !== undefined ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
    const base = {
      ...copyAll(o.socketOptions),
      noDelay: o.noDelay,
      keepAlive: o.keepAlive,
      keepAliveInitialDelay: o.keepAliveInitialDelayMillis,
    };
    if (endpoint.tls) {
      const tlsOptions = endpoint.tls === true ? {} : copyAll(endpoint.tls);
      return tls.connect({ ...base, ...tlsOptions, ...where } as tls.ConnectionOptions);
    }
    return net.connect({ ...base, ...where } as net.NetConnectOpts);
  }

  /** @internal */
  connectTimedOut(): void {
    this.attemptTimer = undefined;
    const socket = this.current;
    if (socket === undefined) return;
    this.lose(
      socket,
      new ConnmanError(
        'ERR_CONNECT_TIMEOUT',
        `Connecting to ${describeEndpoint(this.context.endpoint)} took longer than connectTimeoutMillis (${this.options.connectTimeoutMillis} ms)` +
          (this.connectionState === 'handshaking' ? ', the handshake included' : '') +
          '.',
        { pool: this.context.pool },
      ),
    );
  }

  /** @internal The socket is connected (TLS: its handshake is done). */
  socketReady(socket: ConnmanSocket): void {
    if (socket !== this.current || this.connectionState !== 'connecting') return;
    const framing = this.options.framing;
    if (framing !== undefined) {
      let decoder: FrameDecoder<F>;
      try {
        decoder = framing() as FrameDecoder<F>;
        if (decoder === null || typeof decoder !== 'object' || typeof decoder.decode !== 'function') {
          throw new TypeError('framing() must return an object with a decode(chunk) method');
        }
      } catch (error) {
        this.lose(socket, this.protocolError(error, 'the framing factory failed'));
        return;
      }
      this.decoder = decoder;
    }
    const handshake = this.options.handshake;
    if (handshake === undefined) {
      this.becomeReady(socket, undefined);
      return;
    }
    this.connectionState = 'handshaking';
    const run = new HandshakeRun<F>(this, socket, this.context.pool, this.context.endpoint);
    this.handshakeRun = run;
    let result: unknown;
    try {
      result = handshake(socket, run);
    } catch (error) {
      this.handshakeSettled(run, socket, error, true);
      return;
    }
    let pending: boolean;
    try {
      pending = isThenable(result); // a `then` getter is user code too
    } catch (error) {
      this.handshakeSettled(run, socket, error, true);
      return;
    }
    if (pending) {
      Promise.resolve(result).then(
        () => this.handshakeSettled(run, socket, undefined, false),
        (error: unknown) => this.handshakeSettled(run, socket, error ?? new Error('rejected'), true),
      );
    } else {
      this.handshakeSettled(run, socket, undefined, false);
    }
  }

  private handshakeSettled(run: HandshakeRun<F>, socket: ConnmanSocket, error: unknown, failed: boolean): void {
    if (run !== this.handshakeRun || socket !== this.current) return; // the attempt ended meanwhile
    this.handshakeRun = undefined;
    if (failed) {
      this.lose(
        socket,
        new ConnmanError(
          'ERR_HANDSHAKE_FAILED',
          `The handshake with ${describeEndpoint(this.context.endpoint)} failed: ${describeError(error)}`,
          { pool: this.context.pool, cause: error },
        ),
      );
      return;
    }
    run.end(
      new ConnmanError(
        'ERR_INVALID_OPTIONS',
        'The handshake context is over: after the handshake, frames go to onData and request().',
        { pool: this.context.pool },
      ),
    );
    this.becomeReady(socket, run.frames);
  }

  private becomeReady(socket: ConnmanSocket, leftovers: F[] | undefined): void {
    // Frames left over from the handshake arrived before any request: none of them is a reply.
    const answerable = this.sentCount;
    clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    this.connectionState = 'connected';
    this.live = socket;
    this.failure = undefined;
    this.roundFailures = 0;
    this.connectedAt = Date.now();
    if (this.tracksReads) this.lastReadAt = this.connectedAt;
    if (this.options.readIdleTimeoutMillis !== 0) this.armIdleTimer(this.options.readIdleTimeoutMillis);
    const first = !this.everConnected;
    this.everConnected = true;
    for (const entry of [...this.entries]) {
      if (this.live !== socket) return;
      this.runConnectCallbacks(entry, socket, first);
    }
    if (this.live !== socket) return;
    this.fire(first ? 'connect' : 'reconnect', socket);
    if (connectChannel.hasSubscribers) {
      connectChannel.publish({
        ...this.message(),
        reconnect: !first,
        durationMillis: performance.now() - this.attemptStartedAt,
      });
    }
    // Frames that came with the handshake's last reply and that it did not read.
    if (leftovers !== undefined && leftovers.length !== 0 && !this.route(socket, leftovers, answerable)) return;
    if (this.live !== socket) return;
    this.startHeartbeat(socket);
    this.owner?.connectionUp(this, first);
    let waiting: Request<F> | undefined;
    while (this.live === socket && (waiting = this.waiting.first) !== undefined) this.send(waiting);
  }

  private runConnectCallbacks(entry: CallbackEntry<F>, socket: ConnmanSocket, first: boolean): void {
    const resume = first ? undefined : entry.resume;
    entry.resume = undefined;
    const callbacks = entry.callbacks;
    if (typeof resume === 'function') {
      this.invoke(callbacks, resume, socket, 'resume function');
    } else if (resume !== undefined) {
      // onReset gave a promise: decide once it settles.
      void resume.then((fn) => {
        if (this.live !== socket) return;
        if (fn) this.invoke(callbacks, fn, socket, 'resume function');
        else this.runConnectCallbacks(entry, socket, false);
      });
    } else {
      if (callbacks.onConnect) this.invoke(callbacks, callbacks.onConnect, socket, 'onConnect');
      if (!first && callbacks.onReconnect && this.live === socket)
        this.invoke(callbacks, callbacks.onReconnect, socket, 'onReconnect');
    }
  }

  // ---- reading ---------------------------------------------------------------------

  /** @internal */
  socketData(socket: ConnmanSocket, chunk: Buffer): void {
    if (socket !== this.live) {
      if (socket === this.current && this.handshakeRun !== undefined) this.handshakeData(socket, chunk);
      return;
    }
    if (this.tracksReads) this.lastReadAt = Date.now();
    if (this.heartbeatAwaitsBytes) this.heartbeatAnswered();
    const decoder = this.decoder;
    if (decoder === undefined) {
      this.deliver(socket, chunk as unknown as F);
      if (this.live === socket) this.fire('data', chunk);
      return;
    }
    // This chunk answers only requests written before it arrived: one written while its
    // frames are being handed out (by a handler, a listener) waits for a later chunk.
    const answerable = this.sentCount;
    this.fire('data', chunk);
    if (this.live !== socket) return; // a 'data' listener reset or disconnected it
    let frames: readonly F[];
    try {
      const decoded = decoder.decode(chunk);
      // A lazy decoder (a generator) is run to the end first: nothing of a chunk that
      // turns out broken reaches a handler.
      frames = Array.isArray(decoded) ? (decoded as F[]) : [...decoded];
    } catch (error) {
      this.lose(socket, this.protocolError(error, 'the frame decoder failed'));
      return;
    }
    if (frames.length !== 0) this.route(socket, frames, answerable);
  }

  private handshakeData(socket: ConnmanSocket, chunk: Buffer): void {
    const run = this.handshakeRun!;
    if (this.tracksReads) this.lastReadAt = Date.now();
    const decoder = this.decoder;
    if (decoder === undefined) {
      run.push(chunk as unknown as F);
      return;
    }
    try {
      for (const frame of decoder.decode(chunk)) run.push(frame);
    } catch (error) {
      this.lose(socket, this.protocolError(error, 'the frame decoder failed'));
      return;
    }
    if (run.frames.length > MAX_UNREAD_HANDSHAKE_FRAMES) {
      const flood = new RangeError(`more than ${MAX_UNREAD_HANDSHAKE_FRAMES} frames the handshake did not read`);
      this.lose(socket, this.protocolError(flood, 'the peer flooded the handshake'));
    }
  }

  /**
   * Gives each frame to the oldest unanswered request written before the
   * frames arrived (`seq` up to `answerable`), or to `onData` (a push: `isReply`
   * said no, or nothing such is waiting). False once the socket is lost.
   */
  private route(socket: ConnmanSocket, frames: readonly F[], answerable: number): boolean {
    const isReply = this.options.isReply;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      const head = this.inflight.peek();
      if (head !== undefined && head.seq <= answerable) {
        let reply: unknown = true;
        if (isReply !== undefined) {
          try {
            reply = isReply(frame);
          } catch (error) {
            this.lose(socket, this.protocolError(error, 'isReply threw'));
            return false;
          }
          if (typeof reply !== 'boolean') {
            // An async isReply, or one that forgot to return: replies could no longer be told from pushes.
            const wrong = new TypeError(
              `isReply returned ${reply === null ? 'null' : typeof reply}, not true or false`,
            );
            this.lose(socket, this.protocolError(wrong, 'isReply must return true or false'));
            return false;
          }
        }
        if (reply) {
          this.inflight.shift();
          head.answer(frame); // a request that timed out or was aborted drops its late reply
          if (this.live !== socket) return false;
          continue;
        }
      }
      this.deliver(socket, frame);
      if (this.live !== socket) return false;
    }
    return true;
  }

  /** Hands a chunk or frame to every `onData` callback, then the `frame` event. */
  private deliver(socket: ConnmanSocket, value: F): void {
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const callbacks = entries[i].callbacks;
      if (callbacks.onData !== undefined) {
        this.invoke(callbacks, callbacks.onData, value, 'onData');
        if (this.live !== socket) return;
      }
    }
    if (this.decoder !== undefined) this.fire('frame', value);
  }

  private protocolError(cause: unknown, what: string): ConnmanError {
    return new ConnmanError(
      'ERR_PROTOCOL',
      `Protocol error on the connection to ${describeEndpoint(this.context.endpoint)}: ${what} (${describeError(cause)}); the connection is reset.`,
      { pool: this.context.pool, cause },
    );
  }

  // ---- requests ----------------------------------------------------------------------

  /** @internal Writes a request on the ready connection. */
  send(request: Request<F>): void {
    const socket = this.live!;
    request.written(this, this.generation);
    request.seq = ++this.sentCount;
    this.unsettled++;
    this.inflight.push(request);
    this.write(socket, request.payload);
  }

  /**
   * @internal Writes go out together, in order, in one system call. With
   * pipelined traffic (other requests in flight, on any connection) the
   * socket is corked until the loop's check phase (`setImmediate`), not only
   * until the end of the current tick, so that the requests made by callers
   * resumed by the replies of several sockets (one `data` event each, in the
   * same poll phase) share a write; the loop does not block in between (a
   * pending immediate makes its poll phase return at once). A lone request
   * has nothing to wait for: it goes out at the end of the tick.
   */
  write(socket: ConnmanSocket, payload: RequestPayload): void {
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      if (inFlightEverywhere() > 1) setImmediate(uncork, this, socket);
      else process.nextTick(uncork, this, socket);
    }
    socket.write(payload);
  }

  /** @internal A request written on socket `generation` timed out. */
  requestTimedOut(generation: number, error: ConnmanError): void {
    const socket = this.live;
    if (socket === undefined || generation !== this.generation || !this.options.resetOnRequestTimeout) return;
    this.lose(
      socket,
      new ConnmanError(
        'ERR_REQUEST_TIMEOUT',
        `A request to ${describeEndpoint(this.context.endpoint)} got no reply in time; the connection is reset, since later replies could no longer be matched to their requests (resetOnRequestTimeout).`,
        { pool: this.context.pool, cause: error },
      ),
    );
  }

  /** @internal A request written on socket `generation` settled: one fewer to wait for. */
  requestSettled(generation: number): void {
    if (generation !== this.generation || this.unsettled === 0) return;
    if (--this.unsettled === 0) this.onDrained?.();
  }

  /** @internal Requests written and not yet settled (what a pool waits for before retiring or closing). */
  get unanswered(): number {
    return this.unsettled;
  }

  /** @internal `host:port`, for request messages. */
  describe(): string {
    return describeEndpoint(this.context.endpoint);
  }

  private failInFlight(cause: Error, why: string): void {
    this.unsettled = 0; // the loss itself is reported; no drain notice for these
    if (this.inflight.size === 0) return;
    const entries = this.inflight.drain();
    const where = describeEndpoint(this.context.endpoint);
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      for (const entry of entries) {
        if (entry.settled) continue;
        entry.fail(
          new ConnmanError(
            'ERR_CONNECTION_CLOSED',
            `No reply from ${where}: ${why} (${describeError(cause)}); the request was written and may or may not have reached the peer.`,
            { pool: this.context.pool, cause },
          ),
        );
      }
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  private requestRefused(): ConnmanError {
    return new ConnmanError(
      'ERR_CONNECTION_CLOSED',
      `The connection to ${describeEndpoint(this.context.endpoint)} was disconnected; the request was never written.`,
      { pool: this.context.pool, cause: this.failure },
    );
  }

  // ---- heartbeat ---------------------------------------------------------------------

  private startHeartbeat(socket: ConnmanSocket): void {
    const heartbeat = this.options.heartbeat;
    if (heartbeat === undefined) return;
    this.lastWriteAt = Date.now();
    this.lastWrittenMark = socket.bytesWritten;
    this.heartbeatTimer = setTimeout(onHeartbeatDue, heartbeat.intervalMillis, this);
  }

  /** @internal The heartbeat interval passed: send one if the connection was idle all along. */
  heartbeatDue(): void {
    this.heartbeatTimer = undefined;
    const socket = this.live;
    const heartbeat = this.options.heartbeat;
    if (socket === undefined || heartbeat === undefined) return;
    const now = Date.now();
    // Reads are timed as they come; writes by anyone are seen through the byte count.
    if (socket.bytesWritten !== this.lastWrittenMark) {
      this.lastWrittenMark = socket.bytesWritten;
      this.lastWriteAt = now;
    }
    const idle = heartbeat.idle;
    const quietSince =
      idle === 'all'
        ? Math.max(this.lastWriteAt, this.lastReadAt)
        : idle === 'write'
          ? this.lastWriteAt
          : this.lastReadAt;
    const quiet = now - quietSince;
    if (quiet < heartbeat.intervalMillis) {
      this.heartbeatTimer = setTimeout(onHeartbeatDue, heartbeat.intervalMillis - quiet, this);
      return;
    }
    if (this.owner !== undefined && !this.owner.heartbeatStart(this)) {
      // Leased (or being validated): the borrower owns the socket; check again later.
      this.heartbeatTimer = setTimeout(onHeartbeatDue, heartbeat.intervalMillis, this);
      return;
    }
    let payload: RequestPayload;
    try {
      payload = typeof heartbeat.payload === 'function' ? heartbeat.payload() : heartbeat.payload;
      if (!isPayload(payload)) throw new TypeError('heartbeat.payload() must return a non-empty string or Buffer');
    } catch (error) {
      this.reportCallbackError(error, 'heartbeat.payload');
      if (this.live !== socket) return;
      this.owner?.heartbeatEnd(this);
      this.heartbeatTimer = setTimeout(onHeartbeatDue, heartbeat.intervalMillis, this);
      return;
    }
    // The payload function may have reset or disconnected the connection: then there is nothing to send.
    if (this.live !== socket) return;
    this.heartbeatInFlight = true;
    if (this.decoder !== undefined) {
      const probe = new HeartbeatProbe(this, this.generation);
      probe.seq = ++this.sentCount;
      this.unsettled++;
      this.inflight.push(probe as InFlight<F>);
    } else this.heartbeatAwaitsBytes = true;
    // At once: nothing to gather it with (the connection was quiet), and its timeout starts now.
    // (Behind writes still corked, if any: the socket keeps the order.)
    socket.write(payload);
    // Its answer comes after the replies of the requests written before it: a slow reply (within its
    // request's deadline) must not make the probe time out and reset a live connection under them.
    const timeout = Math.min(heartbeat.timeoutMillis + this.repliesAheadMillis(), MAX_TIMER_MILLIS);
    this.heartbeatTimer = setTimeout(onHeartbeatTimeout, timeout, this);
  }

  /**
   * How long the replies in flight may still be waited for: the latest
   * deadline of the requests written and not yet answered (late replies of
   * settled ones included, until their own deadline), from now; 0 if none.
   */
  private repliesAheadMillis(): number {
    if (this.inflight.size === 0) return 0;
    const now = performance.now();
    let latest = now;
    for (const entry of this.inflight.entries()) {
      const deadline = (entry as Partial<Request<F>>).deadline;
      if (deadline !== undefined && deadline > latest) latest = deadline;
    }
    return Math.ceil(latest - now);
  }

  /** @internal The heartbeat's answer came. */
  heartbeatAnswered(): void {
    if (!this.heartbeatInFlight) return;
    this.heartbeatInFlight = false;
    this.heartbeatAwaitsBytes = false;
    clearTimeout(this.heartbeatTimer);
    const socket = this.live;
    this.owner?.heartbeatEnd(this);
    if (socket === undefined || this.live !== socket) return;
    // The heartbeat's own write and answer count as traffic.
    this.lastWriteAt = this.lastReadAt = Date.now();
    this.lastWrittenMark = socket.bytesWritten;
    this.heartbeatTimer = setTimeout(onHeartbeatDue, this.options.heartbeat!.intervalMillis, this);
  }

  /** @internal No answer to the heartbeat in time: the peer is gone. */
  heartbeatTimedOut(): void {
    this.heartbeatTimer = undefined;
    const socket = this.live;
    if (!this.heartbeatInFlight || socket === undefined) return;
    const heartbeat = this.options.heartbeat!;
    this.lose(
      socket,
      new ConnmanError(
        'ERR_HEARTBEAT_TIMEOUT',
        `${describeEndpoint(this.context.endpoint)} did not answer a heartbeat within ${heartbeat.timeoutMillis} ms; the connection is considered dead.`,
        { pool: this.context.pool },
      ),
    );
  }

  // ---- losing a socket -------------------------------------------------------------------

  /** @internal */
  socketFailed(socket: ConnmanSocket, error: Error): void {
    this.lose(socket, error);
  }

  /** @internal The peer sent FIN: never leave a half-open socket behind. */
  socketEnded(socket: ConnmanSocket): void {
    if (socket === this.current) {
      this.lose(
        socket,
        new ConnmanError('ERR_CONNECTION_CLOSED', `${describeEndpoint(this.context.endpoint)} closed the connection.`, {
          pool: this.context.pool,
        }),
      );
    } else {
      socket.destroy();
    }
  }

  /** @internal */
  socketClosed(socket: ConnmanSocket): void {
    if (socket === this.current) {
      const ready = socket === this.live;
      this.lose(
        socket,
        new ConnmanError(
          'ERR_CONNECTION_CLOSED',
          ready
            ? `Connection to ${describeEndpoint(this.context.endpoint)} closed.`
            : `Connecting to ${describeEndpoint(this.context.endpoint)} failed: the socket closed.`,
          { pool: this.context.pool },
        ),
      );
    }
    this.openSockets--;
    if (this.connectionState === 'closed' && this.openSockets === 0 && this.resolveClosed !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      const resolve = this.resolveClosed;
      this.resolveClosed = undefined;
      resolve();
      this.emitClose();
    }
  }

  /**
   * @internal A live socket that its user destroyed or ended is lost, even
   * before its `close` event: report the loss now. True while a usable socket
   * is live.
   */
  checkSocket(): boolean {
    // Hot (every lend and release): kept small so that it inlines.
    // `writable` is false once its user called end() or destroy() (one getter for both).
    const socket = this.live;
    if (socket !== undefined && socket.writable) return true;
    return this.socketGone();
  }

  /** The live socket is missing, or its user destroyed or ended it: report the loss. */
  private socketGone(): false {
    const socket = this.live;
    if (socket === undefined) return false;
    this.lose(
      socket,
      new ConnmanError(
        'ERR_CONNECTION_CLOSED',
        `The socket to ${describeEndpoint(this.context.endpoint)} was ended or destroyed by its user.`,
        { pool: this.context.pool },
      ),
    );
    return false;
  }

  /**
   * The one path of every loss, whatever its cause (error, FIN, close, a
   * timeout, a failed handshake, a protocol error, `reset()`): the socket is
   * dropped at once, not when its `close` event comes.
   */
  private lose(socket: ConnmanSocket, error: Error): void {
    if (socket !== this.current) return;
    const wasConnected = socket === this.live;
    const endpoint = this.context.endpoint;
    this.current = this.live = undefined;
    this.clearSocketTimers();
    if (!socket.destroyed) socket.destroy();
    const decoder = this.decoder;
    this.decoder = undefined;
    if (decoder?.reset !== undefined) {
      try {
        decoder.reset();
      } catch (thrown) {
        this.reportCallbackError(thrown, 'the frame decoder reset()');
      }
    }
    if (this.handshakeRun !== undefined) {
      // Its pending read() rejects with a typed error, whatever the cause.
      this.handshakeRun.end(
        isConnmanError(error)
          ? error
          : new ConnmanError(
              'ERR_CONNECTION_CLOSED',
              `The connection to ${describeEndpoint(endpoint)} was lost during the handshake: ${describeError(error)}.`,
              { pool: this.context.pool, cause: error },
            ),
      );
      this.handshakeRun = undefined;
    }
    if (this.connectionState === 'closed') return;
    this.afterLoss(error, endpoint, wasConnected, false);
  }

  private clearSocketTimers(): void {
    clearTimeout(this.attemptTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.heartbeatTimer);
    this.attemptTimer = this.idleTimer = this.heartbeatTimer = undefined;
    this.heartbeatInFlight = this.heartbeatAwaitsBytes = false;
  }

  /** After an attempt failed or a ready connection was lost: report, then schedule the next attempt. */
  private afterLoss(raw: Error, endpoint: Endpoint, wasConnected: boolean, synchronousFailure: boolean): void {
    const error = wasConnected ? raw : this.connectFailure(raw, endpoint);
    this.failure = error;
    this.connectionState = 'backoff';
    if (wasConnected) {
      if (this.recycling || Date.now() - this.connectedAt >= this.options.backoff.resetAfterMillis) {
        this.backoff.reset();
        this.hurried = false;
      }
      this.failInFlight(error, 'the connection was lost');
      this.owner?.connectionLost(this);
      for (const entry of [...this.entries]) {
        if ((this.connectionState as ConnectionState) !== 'backoff') break; // disconnected by a callback
        this.runResetCallback(entry, error);
      }
      if ((this.connectionState as ConnectionState) === 'backoff') {
        this.fire('reset', error);
        if (resetChannel.hasSubscribers) resetChannel.publish({ ...this.message(), error });
      }
    } else {
      this.roundFailures++;
      this.fire('connectError', error);
      if (connectErrorChannel.hasSubscribers) {
        connectErrorChannel.publish({ ...this.message(), error, failures: this.backoff.attempts + 1 });
      }
    }
    this.owner?.connectionDown(this, error, wasConnected, endpoint);
    if (this.connectionState !== 'backoff') return; // disconnected by a callback or the owner
    if (this.recycling) this.armRetry(0);
    else this.scheduleRetry(wasConnected, synchronousFailure);
  }

  /** Several addresses that all failed (autoSelectFamily) become one typed error that keeps them. */
  private connectFailure(error: Error, endpoint: Endpoint): Error {
    // By shape, not instanceof: errors may come from another realm (a VM context, a worker).
    const errors = (error as Partial<AggregateError>).errors;
    if (error.name !== 'AggregateError' || !Array.isArray(errors)) return error;
    const each = errors
      .map((e: unknown) => {
        const failed = e as NodeJS.ErrnoException & { address?: string; port?: number };
        return failed.address !== undefined
          ? `${failed.address}:${failed.port} (${failed.code ?? describeError(failed)})`
          : describeError(failed);
      })
      .join(', ');
    return new ConnmanError(
      'ERR_CONNECT_FAILED',
      `Connecting to ${describeEndpoint(endpoint)} failed on every address it resolved to: ${each}.`,
      { pool: this.context.pool, cause: error },
    );
  }

  private scheduleRetry(afterLoss: boolean, synchronousFailure: boolean): void {
    let delay: number;
    if (this.endpoints.length > 1 && !afterLoss) {
      // Fail over: try each other endpoint at once, then back off for a round.
      this.endpointIndex = (this.endpointIndex + 1) % this.endpoints.length;
      delay = this.roundFailures % this.endpoints.length === 0 ? this.backoff.next() : 0;
    } else {
      delay = this.backoff.next();
    }
    if (delay === 0 && synchronousFailure) delay = this.options.backoff.initialDelayMillis;
    this.armRetry(delay);
  }

  private armRetry(delay: number): void {
    this.retryDueAt = Date.now() + delay;
    this.retryTimer = setTimeout(onRetryDue, delay, this);
  }

  /** @internal */
  retryDue(): void {
    this.attempt();
  }

  /**
   * @internal A sibling connection just reached this endpoint: the peer is
   * back, so retry within `withinMillis` (random, against a herd) instead of
   * waiting out the rest of a long backoff delay. No extra attempt is made
   * while the peer stays down.
   */
  retrySoon(withinMillis: number, random: () => number = Math.random): void {
    if (this.connectionState !== 'backoff' || this.retryTimer === undefined || this.hurried) return;
    // Within [floor, 2 × floor): never below the backoff's floor.
    const delay = withinMillis + Math.floor(random() * withinMillis);
    if (this.retryDueAt - Date.now() <= delay) return;
    // Once until a connection proves stable: a peer that accepts and drops at once (each sibling's
    // brief connect would hurry the others again) keeps every connection on its own schedule.
    this.hurried = true;
    clearTimeout(this.retryTimer);
    this.armRetry(delay);
  }

  private runResetCallback(entry: CallbackEntry<F>, error: Error): void {
    entry.resume = undefined;
    const onReset = entry.callbacks.onReset;
    if (onReset === undefined) return;
    let result: unknown;
    try {
      result = onReset.call(entry.callbacks, error, this.context);
    } catch (thrown) {
      this.reportCallbackError(thrown, 'onReset');
      return;
    }
    let pending: boolean;
    try {
      pending = typeof result !== 'function' && isThenable(result); // a `then` getter is user code too
    } catch (thrown) {
      this.reportCallbackError(thrown, 'onReset');
      return;
    }
    if (typeof result === 'function') {
      entry.resume = result as ResumeFunction<F>;
    } else if (pending) {
      entry.resume = Promise.resolve(result).then(
        (value) => (typeof value === 'function' ? (value as ResumeFunction<F>) : undefined),
        (rejected: unknown) => {
          this.reportCallbackError(rejected, 'onReset');
          return undefined;
        },
      );
    }
  }

  private invoke<A>(
    self: ConnectionCallbacks<F>,
    fn: (arg: A, context: ConnectionContext<F>) => unknown,
    arg: A,
    name: string,
  ): void {
    try {
      const result = fn.call(self, arg, this.context);
      if (result !== undefined && isThenable(result)) {
        Promise.resolve(result).catch((rejected: unknown) => this.reportCallbackError(rejected, name));
      }
    } catch (thrown) {
      this.reportCallbackError(thrown, name);
    }
  }

  /**
   * Emits one of the connection's events. A listener that throws is reported
   * like a failing callback: it never stops the connection's own work (its
   * bookkeeping, its reconnection).
   */
  private fire<K extends keyof ConnectionEvents<F>>(event: K, ...args: ConnectionEvents<F>[K]): void {
    try {
      (this.emit as (event: string, ...args: unknown[]) => boolean)(event as string, ...args);
    } catch (error) {
      this.reportCallbackError(error, `'${String(event)}' event listener`);
    }
  }

  private reportCallbackError(error: unknown, callback: string): void {
    if (this.connectionState === 'closed') return;
    if (this.owner !== undefined) {
      this.owner.callbackFailed(this, error, callback);
    } else if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', toError(error));
      } catch (thrown) {
        this.options.logger.error(`An 'error' event listener failed: ${describeError(thrown)}`);
      }
    } else {
      this.options.logger.error(
        `${callback} callback of the connection to ${describeEndpoint(this.endpoint)} failed: ${describeError(error)}`,
        isError(error) ? error.stack : undefined,
      );
    }
  }

  private armIdleTimer(delay: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const socket = this.live;
      if (socket === undefined) return;
      const limit = this.options.readIdleTimeoutMillis;
      const silent = Date.now() - this.lastReadAt;
      if (silent < limit) {
        this.armIdleTimer(limit - silent);
        return;
      }
      this.lose(
        socket,
        new ConnmanError(
          'ERR_READ_IDLE_TIMEOUT',
          `${describeEndpoint(this.endpoint)} sent nothing for ${silent} ms (readIdleTimeoutMillis ${limit}); the connection is considered dead.`,
          { pool: this.context.pool },
        ),
      );
    }, delay);
  }

  private emitClose(): void {
    this.fire('close');
    if (closeChannel.hasSubscribers) closeChannel.publish(this.message());
  }

  /** What every diagnostics message of this connection carries. */
  private message(): { pool: string | undefined; endpoint: string; connection: PersistentConnection<AnyFrame> } {
    return { pool: this.context.pool, endpoint: describeEndpoint(this.context.endpoint), connection: this };
  }

  private disconnectedError(): ConnmanError {
    return new ConnmanError(
      'ERR_DISCONNECTED',
      `The connection to ${describeEndpoint(this.endpoint)} was disconnected.`,
      {
        pool: this.context.pool,
        cause: this.failure,
      },
    );
  }

  /** A short, secret-free description (TLS and socket options are never shown). */
  override toString(): string {
    return `PersistentConnection(${describeEndpoint(this.endpoint)}, ${this.connectionState})`;
  }

  /** What `util.inspect` shows: `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** @internal Checks a callbacks object: the four keys are functions; a plain object has no other key. */
export function checkCallbacks(callbacks: unknown, label = 'callbacks', pool?: string): void {
  if (!isOptionBag(callbacks)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid option '${label}': expected an object with onConnect, onData, onReset or onReconnect.`,
      { pool },
    );
  }
  const record = callbacks as Record<string, unknown>;
  const proto = Object.getPrototypeOf(callbacks) as unknown;
  if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(record)) {
      if (!(CALLBACK_KEYS as readonly string[]).includes(key)) {
        throw new ConnmanError(
          'ERR_INVALID_OPTIONS',
          `Unknown callback '${label}.${key}'; known callbacks: ${CALLBACK_KEYS.join(', ')}.`,
          { pool },
        );
      }
    }
  }
  for (const key of CALLBACK_KEYS) {
    if (record[key] !== undefined && typeof record[key] !== 'function') {
      throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid callback '${label}.${key}': expected a function.`, {
        pool,
      });
    }
  }
}

/** @internal Checks what `request()` was given (the payload, and that framing is on). */
export function checkRequest(payload: unknown, options: ResolvedConnectionOptions, pool: string | undefined): void {
  if (options.framing === undefined) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `request() needs the option 'framing' (replies are matched to requests frame by frame); give framing: lines(), lengthPrefixed(...) or your own decoder.`,
      { pool },
    );
  }
  if (!isPayload(payload)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid payload for request(): expected a non-empty string, Buffer or Uint8Array, got ${payload === null ? 'null' : typeof payload}.`,
      { pool },
    );
  }
}

/** The checked arguments of `new PersistentConnection(endpoint, callbacks, options)`. */
function checkConnectionArguments(
  endpoint: unknown,
  callbacks: unknown,
  options: unknown,
): { endpoints: readonly Endpoint[]; options: ResolvedConnectionOptions } {
  const scope = 'a persistent connection';
  const list: readonly unknown[] = Array.isArray(endpoint) ? endpoint : [endpoint];
  if (list.length === 0) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid option 'endpoint' for ${scope}: give at least one endpoint.`,
    );
  }
  const endpoints = Array.from(list, (ep, i) =>
    checkEndpoint(scope, list.length > 1 ? `endpoint[${i}]` : 'endpoint', ep),
  );
  if (options !== undefined && !isOptionBag(options)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid options for ${scope}: expected an object of connection options.`,
    );
  }
  const reader = new OptionReader(scope, options ?? {});
  reader.onlyKeys(CONNECTION_KEYS);
  const resolved = resolveConnectionOptions(reader);
  if (callbacks !== undefined) checkCallbacks(callbacks);
  return { endpoints, options: resolved };
}

/** @internal Reads `{ timeoutMillis, signal }` of a request, refusing anything else. */
export function readRequestOptions(
  options: unknown,
  defaultTimeout: number,
  pool: string | undefined,
): { timeoutMillis: number; signal: AbortSignal | undefined } {
  const scope = pool === undefined ? 'request()' : `request() on pool '${pool}'`;
  if (!isOptionBag(options)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid options for ${scope}: expected { timeoutMillis?, signal? }.`,
      {
        pool,
      },
    );
  }
  const reader = new OptionReader(scope, options, pool);
  reader.onlyKeys(REQUEST_OPTION_KEYS);
  const timeoutMillis = reader.int('timeoutMillis', defaultTimeout, 1);
  const signal = reader.raw('signal');
  if (signal !== undefined && !(signal instanceof AbortSignal)) reader.fail('signal', 'an AbortSignal', signal);
  return { timeoutMillis, signal: signal as AbortSignal | undefined };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
