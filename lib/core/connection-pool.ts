import type { AnyFrame } from './types.js';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { Backoff } from './backoff.js';
import { acquireTimeoutChannel, acquireTracing, leakChannel, payloadBytes, requestTracing } from './diagnostics.js';
import { ConnmanError, describeError, isError, toError } from './errors.js';
import { OptionReader, checkEndpoint, describeEndpoint, isOptionBag } from './options.js';
import { Timekeeper, promiseOf } from './pending.js';
import {
  PersistentConnection,
  checkCallbacks,
  checkRequest,
  createPooledConnection,
  readRequestOptions,
  type ConnectionOwner,
} from './persistent-connection.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './pool-options.js';
import { Request } from './requests.js';
import type { ConnectionCallbacks, ConnmanSocket, Endpoint, RequestOptions, RequestPayload } from './types.js';
import { WaitList, type Waiter } from './waiters.js';
import { WaitQueue } from './wait-queue.js';

/** Options of one `acquire()`. */
export interface AcquireOptions {
  /** Aborting it rejects the waiting acquire with ERR_ACQUIRE_ABORTED. */
  signal?: AbortSignal | undefined;
  /** Overrides the pool's `acquireTimeoutMillis` for this call, in ms. */
  timeoutMillis?: number | undefined;
}

/** Options of `open()`. */
export interface OpenOptions {
  /** Wait until `min` connections are up (default), or resolve at once. */
  wait?: boolean | undefined;
  /** Overrides the pool's `openTimeoutMillis`. */
  timeoutMillis?: number | undefined;
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long leases (and requests in flight) may take to come back before
   * their sockets are destroyed, in ms. Default 10000.
   */
  timeoutMillis?: number | undefined;
}

/** Where a pool is in its life. */
export type PoolState = 'new' | 'open' | 'closing' | 'closed';

/** Per-endpoint part of {@link PoolStats}. */
export interface EndpointStats {
  /** `host:port`, `tls://host:port` or `unix:path`. */
  endpoint: string;
  /** Connections attached to this endpoint (ready or trying). */
  connections: number;
  /** Ready connections. */
  connected: number;
  /** Failed connect attempts in a row (0 once one succeeds). */
  consecutiveFailures: number;
  /** Failed connect attempts in all. */
  failures: number;
  /** The last connect error's message, while failures go on. */
  lastError: string | undefined;
}

/** A snapshot of a pool's counts. */
export interface PoolStats {
  /** The pool's name. */
  name: string;
  /** Where the pool is in its life. */
  state: PoolState;
  /** The `min` option: connections kept for good. */
  min: number;
  /** The `max` option: the bound on connections. */
  max: number;
  /** Connections of the pool, those being created or reconnecting included. */
  size: number;
  /** Ready connections (connected, handshake done). */
  connected: number;
  /** Ready and available for a lease. */
  idle: number;
  /** Lent out (acquired and not yet released). */
  leased: number;
  /** Being created, reconnecting, or running their handshake. */
  pending: number;
  /** Acquires waiting for a connection. */
  waiting: number;
  /** Requests written and not yet answered, over all connections. */
  pendingRequests: number;
  /** Requests waiting for a ready connection. */
  waitingRequests: number;
  /** Per endpoint: connections, failures and the last connect error. */
  endpoints: EndpointStats[];
}

/** Typed events of a {@link ConnectionPool}. */
export interface PoolEvents<F = Buffer> {
  /** A new connection is ready. */
  connect: [connection: PersistentConnection<F>];
  /** A connection is ready again after a reset. */
  reconnect: [connection: PersistentConnection<F>];
  /** A ready connection was lost. */
  reset: [error: Error, connection: PersistentConnection<F>];
  /** A connect attempt (or its handshake) failed: a new connection, or a reconnect. */
  createError: [error: Error, endpoint: Endpoint];
  /** A lease was granted, after waiting `waitedMillis` (0 when a connection was idle). */
  acquire: [lease: Lease<F>, waitedMillis: number];
  /** A lease was released or destroyed. */
  release: [lease: Lease<F>];
  /** A connection left the pool for good. */
  destroy: [connection: PersistentConnection<F>, reason: Error | undefined];
  /** A user callback threw or rejected (without a listener, it is logged). */
  error: [error: Error, connection: PersistentConnection<F>];
  /** `close()` finished: nothing of the pool is left. */
  close: [];
}

/** @internal One connection of the pool and its bookkeeping. */
export class Slot {
  lease: Lease<AnyFrame> | undefined = undefined;
  /** Being validated for `waiter`. */
  validating = false;
  waiter: Waiter | undefined = undefined;
  validationTimer: NodeJS.Timeout | undefined = undefined;
  /** Counts validations, so that a late outcome of an abandoned one is ignored. */
  validationToken = 0;
  /** A heartbeat is in flight: not lent meanwhile. */
  heartbeat = false;
  /** First connect attempt still in flight. */
  creating = false;
  retired = false;
  /** Past maxLifetime while in use: retire once free. */
  expired = false;
  lifetimeTimer: NodeJS.Timeout | undefined = undefined;
  // Links of the idle list.
  idlePrev: Slot | undefined = undefined;
  idleNext: Slot | undefined = undefined;
  inIdle = false;
  idleTick = 0;
  /** When its current connection became ready (Date.now()). */
  upSince = 0;

  constructor(
    readonly conn: PersistentConnection<AnyFrame>,
    /** Added by `addConnection`: kept and reconnected whatever happens. */
    readonly pinned: boolean,
  ) {}
}

/** The idle connections, in release order: O(1) at both ends and from the middle. */
class IdleList {
  head: Slot | undefined;
  tail: Slot | undefined;
  size = 0;

  push(slot: Slot): void {
    if (slot.inIdle) this.remove(slot);
    slot.idlePrev = this.tail;
    slot.idleNext = undefined;
    slot.inIdle = true;
    if (this.tail === undefined) this.head = slot;
    else this.tail.idleNext = slot;
    this.tail = slot;
    this.size++;
  }

  /** The most recently released. */
  pop(): Slot | undefined {
    const slot = this.tail;
    if (slot !== undefined) this.remove(slot);
    return slot;
  }

  /** The least recently released. */
  shift(): Slot | undefined {
    const slot = this.head;
    if (slot !== undefined) this.remove(slot);
    return slot;
  }

  remove(slot: Slot): void {
    if (!slot.inIdle) return;
    const { idlePrev, idleNext } = slot;
    if (idlePrev === undefined) this.head = idleNext;
    else idlePrev.idleNext = idleNext;
    if (idleNext === undefined) this.tail = idlePrev;
    else idleNext.idlePrev = idlePrev;
    slot.idlePrev = slot.idleNext = undefined;
    slot.inIdle = false;
    this.size--;
  }
}

interface EndpointRecord {
  consecutiveFailures: number;
  failures: number;
  lastError: string | undefined;
}

interface OpenWaiter {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Exclusive use of one pooled connection, from `acquire()` until `release()`
 * or `destroy()`. Works with `await using` (disposal releases).
 */
export class Lease<F = Buffer> implements AsyncDisposable, Disposable {
  /** @internal */ done = false;
  /** @internal */ leakTimer: NodeJS.Timeout | undefined = undefined;

  /** Leases are made by their pool (`acquire()`), never with `new`. */
  private constructor(
    /** The pool the lease came from. */
    readonly pool: ConnectionPool<F>,
    /** @internal */ readonly slot: Slot,
    /** The leased socket. If the connection resets meanwhile, this socket errors and stays dead. */
    readonly socket: ConnmanSocket,
  ) {}

  /** The leased connection. */
  get connection(): PersistentConnection<F> {
    return this.slot.conn;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.done;
  }

  /**
   * A request on the leased connection (needs `framing`): its reply is
   * matched in write order, as for the pool's `request()`.
   */
  request(payload: RequestPayload, options?: RequestOptions): Promise<F> {
    return this.pool.leaseRequest(this, payload, options);
  }

  /** Gives the connection back. A second call throws ERR_NOT_LEASED. */
  release(): void {
    this.pool.release(this);
  }

  /**
   * Gives the connection back to be closed and replaced (after a protocol
   * error, say). Its callbacks see a reset with `error`.
   */
  destroy(error?: Error): void {
    this.pool.destroy(this, error);
  }

  /** Releases unless already released. */
  [Symbol.dispose](): void {
    if (!this.done) this.pool.release(this);
  }

  /** Releases unless already released (`await using lease = await pool.acquire()`). */
  [Symbol.asyncDispose](): Promise<void> {
    if (!this.done) this.pool.release(this);
    return Promise.resolve();
  }

  /** What `util.inspect` shows: the pool, the endpoint and the state, never an option. */
  [inspect.custom](): string {
    return `Lease(pool '${this.pool.name}', ${describeEndpoint(this.slot.conn.endpoint)}, ${this.done ? 'released' : 'held'})`;
  }
}

/** The constructor of a Lease: private in its declared type (users never `new` one), the pool's to call. */
type LeaseConstructor<F> = new (pool: ConnectionPool<F>, slot: Slot, socket: ConnmanSocket) => Lease<F>;

/**
 * A named set of persistent connections to one or more endpoints, lent out
 * exclusively (leases, FIFO waiters), shared (`pick()`), or used for
 * pipelined requests (`request()`).
 */
export class ConnectionPool<F = Buffer> extends EventEmitter<PoolEvents<F>> {
  /** The validated options, defaults filled in. */
  readonly options: ResolvedPoolOptions;
  private poolState: PoolState = 'new';
  private readonly slots = new Map<PersistentConnection<AnyFrame>, Slot>();
  private readonly ring: Slot[] = [];
  private readonly idle = new IdleList();
  private readonly waitList: WaitList;
  private readonly requestQueue = new WaitQueue<Request<F>>();
  private readonly requestClock: Timekeeper;
  private readonly handlerSets: ConnectionCallbacks<F>[] = [];
  private readonly endpointRecords = new Map<string, EndpointRecord>();
  private readonly disconnecting = new Set<Promise<void>>();
  private readonly createBackoff: Backoff;
  private readonly owner: ConnectionOwner;
  private openWaiters: OpenWaiter[] = [];
  private creating = 0;
  private nextCreateAt = 0;
  private createTimer: NodeJS.Timeout | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private tick = 0;
  private endpointCursor = 0;
  private pickCursor = 0;
  private requestCursor = 0;
  private wantSpare = false;
  private pumping = false;
  private lastError: Error | undefined;
  private closePromise: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private leaseListeners = 0;
  /** The pool's endpoints, described once (for messages and diagnostics). */
  private readonly endpointLabel: string;
  private timeoutMessage: { millis: number; text: string } | undefined;
  /** No validate(): an idle connection is lent at once. */
  private readonly lendsAtOnce: boolean;
  private readonly fifo: boolean;

  /** Validates every option (ERR_INVALID_OPTIONS names the option). Connects nothing until `open()`. */
  constructor(options: PoolOptions<F>) {
    super();
    this.options = resolvePoolOptions(options as unknown as PoolOptions);
    // The hot path emits 'acquire' and 'release' only when someone listens.
    const untyped = this as EventEmitter;
    untyped.on('newListener', (event: string | symbol) => {
      if (event === 'acquire' || event === 'release') this.leaseListeners++;
    });
    untyped.on('removeListener', (event: string | symbol) => {
      if (event === 'acquire' || event === 'release') this.leaseListeners--;
    });
    this.createBackoff = new Backoff(this.options.connection.backoff);
    this.endpointLabel = this.options.endpoints.map(describeEndpoint).join(', ');
    this.lendsAtOnce = this.options.validate === undefined;
    this.fifo = this.options.fifo;
    this.waitList = new WaitList(this.options.acquireTimeoutMillis, {
      timeoutError: (waiter) => this.acquireTimeoutError(waiter.timeoutMillis),
      abortedError: (reason) => this.abortedError(reason),
    });
    this.requestClock = new Timekeeper(this.options.connection.requestTimeoutMillis);
    if (this.options.callbacks) this.handlerSets.push(this.options.callbacks as ConnectionCallbacks<F>);
    for (const endpoint of this.options.endpoints) this.recordFor(endpoint);
    this.owner = {
      poolName: this.options.name,
      connectionUp: (connection, first) => this.connectionUp(connection, first),
      connectionLost: (connection) => this.connectionLost(connection),
      connectionDown: (connection, error, wasConnected, endpoint) =>
        this.connectionDown(connection, error, wasConnected, endpoint),
      callbackFailed: (connection, error, callback) => this.callbackFailed(connection, error, callback),
      heartbeatStart: (connection) => this.heartbeatStart(connection),
      heartbeatEnd: (connection) => this.heartbeatEnd(connection),
      connectionClosed: (connection) => this.connectionClosed(connection),
    };
  }

  /** The pool's name. */
  get name(): string {
    return this.options.name;
  }

  /** Where the pool is in its life. */
  get state(): PoolState {
    return this.poolState;
  }

  /** The pool's persistent connections (a new array each call). */
  get connections(): PersistentConnection<F>[] {
    return this.ring.map((slot) => slot.conn);
  }

  /** Connections of the pool, those being created or reconnecting included. */
  get size(): number {
    return this.slots.size;
  }

  /** @internal The pool's name, for requests. */
  get poolName(): string {
    return this.options.name;
  }

  /** @internal The last connect error, for requests that never found a ready connection. */
  get lastConnectError(): Error | undefined {
    return this.lastError;
  }

  /**
   * Starts the `min` connections. Resolves once they are ready (or at once
   * with `{ wait: false }`); rejects after the open timeout with
   * ERR_CONNECT_TIMEOUT and the last connect error as cause, while the pool
   * keeps trying.
   */
  open(options: OpenOptions = {}): Promise<void> {
    let wait: boolean;
    let timeoutMillis: number;
    try {
      const reader = new OptionReader(
        `open() of pool '${this.name}'`,
        objectOrFail(options, 'open()', this.name),
        this.name,
      );
      reader.onlyKeys(['wait', 'timeoutMillis']);
      wait = reader.bool('wait', true);
      timeoutMillis = reader.int('timeoutMillis', this.options.openTimeoutMillis, 0);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.poolState === 'closing' || this.poolState === 'closed') return Promise.reject(this.closedError());
    this.start();
    if (!wait || this.connectedCount() >= this.options.min) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: OpenWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.openWaiters = this.openWaiters.filter((w) => w !== waiter);
          reject(this.openTimeoutError(timeoutMillis));
        }, timeoutMillis),
      };
      this.openWaiters.push(waiter);
    });
  }

  /**
   * Lends a connection exclusively. Served first come, first served; rejects
   * with ERR_ACQUIRE_TIMEOUT (cause: the last connect error, if any),
   * ERR_ACQUIRE_ABORTED, ERR_TOO_MANY_WAITERS or ERR_POOL_CLOSED. Opens the
   * pool if it was not opened yet. Which idle connection: the most recently
   * released (the option `fifo` gives the least recently released).
   */
  acquire(options?: AcquireOptions): Promise<Lease<F>> {
    // The fast path: no options, an idle connection, nobody waiting, no validation, nobody tracing.
    if (
      options === undefined &&
      this.waitList.size === 0 &&
      this.lendsAtOnce &&
      this.poolState === 'open' &&
      !acquireTracing.hasSubscribers
    ) {
      const slot = this.takeIdle();
      if (slot !== undefined) return Promise.resolve(this.lend(slot, undefined, undefined));
    }
    if (!acquireTracing.hasSubscribers) return this.acquireNow(options);
    return acquireTracing.tracePromise(
      this.acquireNow,
      { pool: this.name, endpoint: this.endpointLabel },
      this,
      options,
    );
  }

  private acquireNow(options?: AcquireOptions): Promise<Lease<F>> {
    let timeoutMillis = this.options.acquireTimeoutMillis;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      try {
        ({ timeoutMillis, signal } = this.readAcquireOptions(options));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    if (this.poolState !== 'open') {
      if (this.poolState !== 'new') return Promise.reject(this.closedError());
      this.start();
    }
    if (signal !== undefined && signal.aborted) return Promise.reject(this.abortedError(signal.reason));
    if (this.waitList.size === 0 && this.lendsAtOnce) {
      const slot = this.takeIdle();
      if (slot !== undefined) return Promise.resolve(this.lend(slot, undefined, undefined));
      // Taking an idle connection can run user code (a reset's callbacks), which may close the pool.
      if (this.poolState !== 'open') return Promise.reject(this.closedError());
    }
    if (this.waitList.size >= this.options.maxWaitingClients) {
      return Promise.reject(
        new ConnmanError(
          'ERR_TOO_MANY_WAITERS',
          `Pool '${this.name}' already has ${this.waitList.size} waiting acquires (maxWaitingClients); shed load, or raise maxWaitingClients or max.`,
          { pool: this.name, cause: this.lastError },
        ),
      );
    }
    const stack = this.options.leakDetectionThresholdMillis !== 0 ? captureStack() : undefined;
    const promise = this.waitList.add(signal, timeoutMillis, stack);
    this.serveIdle();
    this.pump();
    return promise;
  }

  /**
   * A lease at once, or `undefined` when no validated connection is idle or
   * others are waiting (never waits; may start a connection for next time).
   */
  tryAcquire(): Lease<F> | undefined {
    // It never waits, so it takes no options: one given (`{ timeoutMillis }`) would be silently ignored.
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length !== 0 && arguments[0] !== undefined) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `tryAcquire() of pool '${this.name}' takes no options: it never waits (use acquire({ timeoutMillis, signal }) to wait).`,
        { pool: this.name },
      );
    }
    if (this.poolState !== 'open') {
      if (this.poolState !== 'new') return undefined;
      this.start();
    }
    if (this.waitList.size !== 0) return undefined;
    let slot: Slot | undefined;
    while ((slot = this.takeIdle()) !== undefined) {
      if (this.options.validate === undefined) return this.lend(slot, undefined, undefined);
      const verdict = this.validateNow(slot);
      if (verdict === true && this.poolState !== 'open') {
        this.offer(slot); // validate() closed the pool: retired
        return undefined;
      }
      if (verdict === true && slot.conn.checkSocket()) return this.lend(slot, undefined, undefined);
      if (verdict === true || verdict === false) continue;
      // Asynchronous validation: let it finish in the background.
      this.startValidation(slot, undefined, verdict);
    }
    if (this.idle.size === 0 && this.slots.size < this.options.max) {
      this.wantSpare = true;
      this.pump();
    }
    return undefined;
  }

  /**
   * Acquires, runs `fn(socket, lease)`, releases; destroys the connection if
   * `fn` throws (its callbacks then see a reset).
   */
  async use<T>(fn: (socket: ConnmanSocket, lease: Lease<F>) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
    if (typeof fn !== 'function') {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `use() on pool '${this.name}' needs a function (socket, lease) => ....`,
        {
          pool: this.name,
        },
      );
    }
    const lease = await this.acquire(options);
    let result: T;
    try {
      result = await fn(lease.socket, lease);
    } catch (error) {
      if (!lease.released) this.destroy(lease, isError(error) ? error : undefined);
      throw error;
    }
    if (!lease.released) this.release(lease);
    return result;
  }

  /**
   * Writes `payload` on a ready, unleased connection (the one with the fewest
   * unanswered requests, round-robin among equals) and resolves with the
   * frame that answers it. Needs `framing`. When no connection is ready it
   * waits, first come first served, until one is or the deadline
   * (`requestTimeoutMillis` or `timeoutMillis`) passes: ERR_REQUEST_TIMEOUT.
   * Also ERR_REQUEST_ABORTED, ERR_CONNECTION_CLOSED (its connection was lost
   * before the reply), ERR_TOO_MANY_WAITERS, ERR_POOL_CLOSED.
   */
  request(payload: RequestPayload, options?: RequestOptions): Promise<F> {
    if (!requestTracing.hasSubscribers) return this.requestNow(payload, options);
    const context = { pool: this.name, endpoint: this.endpointLabel, payloadBytes: safeBytes(payload) };
    return requestTracing.tracePromise(this.requestNow, context, this, payload, options);
  }

  private requestNow(payload: RequestPayload, options?: RequestOptions): Promise<F> {
    let timeoutMillis = this.options.connection.requestTimeoutMillis;
    let signal: AbortSignal | undefined;
    try {
      checkRequest(payload, this.options.connection, this.name);
      if (options !== undefined) ({ timeoutMillis, signal } = readRequestOptions(options, timeoutMillis, this.name));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.poolState !== 'open') {
      if (this.poolState !== 'new') return Promise.reject(this.closedError());
      this.start();
    }
    const request = new Request<F>(payload, signal, timeoutMillis, this.requestClock, this);
    const promise = promiseOf(request);
    if (signal !== undefined && signal.aborted) {
      request.abort(signal.reason);
      return promise;
    }
    if (this.requestQueue.size === 0) {
      const slot = this.pickForRequest();
      if (slot !== undefined) {
        request.start();
        this.sendOn(slot, request);
        return promise;
      }
    }
    if (this.requestQueue.size >= this.options.maxWaitingClients) {
      request.fail(
        new ConnmanError(
          'ERR_TOO_MANY_WAITERS',
          `Pool '${this.name}' already has ${this.requestQueue.size} requests waiting for a ready connection (maxWaitingClients); shed load, or raise maxWaitingClients.`,
          { pool: this.name, cause: this.lastError },
        ),
      );
      return promise;
    }
    request.start();
    request.wait(this.requestQueue);
    this.pump();
    return promise;
  }

  /** @internal `lease.request()`. */
  leaseRequest(lease: Lease<F>, payload: RequestPayload, options: RequestOptions | undefined): Promise<F> {
    if (!requestTracing.hasSubscribers) return this.leaseRequestNow(lease, payload, options);
    const endpoint = describeEndpoint(lease.slot.conn.endpoint);
    const context = { pool: this.name, endpoint, payloadBytes: safeBytes(payload) };
    return requestTracing.tracePromise(this.leaseRequestNow, context, this, lease, payload, options);
  }

  private leaseRequestNow(lease: Lease<F>, payload: RequestPayload, options: RequestOptions | undefined): Promise<F> {
    let timeoutMillis = this.options.connection.requestTimeoutMillis;
    let signal: AbortSignal | undefined;
    try {
      if (lease.done) throw this.notLeasedError('request() on', 'was already released or destroyed');
      checkRequest(payload, this.options.connection, this.name);
      if (options !== undefined) ({ timeoutMillis, signal } = readRequestOptions(options, timeoutMillis, this.name));
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const conn = lease.slot.conn as PersistentConnection<F>;
    if (conn.socket !== lease.socket || !conn.checkSocket()) {
      return Promise.reject(
        new ConnmanError(
          'ERR_CONNECTION_CLOSED',
          `The leased connection of pool '${this.name}' to ${describeEndpoint(conn.endpoint)} was lost; the request was never written. Destroy or release the lease and acquire another.`,
          { pool: this.name, cause: conn.lastError },
        ),
      );
    }
    const request = new Request<F>(payload, signal, timeoutMillis, this.requestClock, this);
    const promise = promiseOf(request);
    if (signal !== undefined && signal.aborted) {
      request.abort(signal.reason);
      return promise;
    }
    request.start();
    conn.send(request);
    return promise;
  }

  /** Gives a lease back. ERR_NOT_LEASED for a second release or a lease of another pool. */
  release(lease: Lease<F>): void {
    const slot = this.checkLease(lease, 'release');
    this.endLease(lease);
    if (slot.lease !== lease) return;
    // A socket the borrower destroyed or ended is lost (even before its close
    // event): report the reset while the lease still pins it, so that it is
    // replaced and never handed to anyone else.
    const alive = !slot.retired && slot.conn.checkSocket();
    slot.lease = undefined;
    if (slot.retired) return this.checkDrained();
    slot.idleTick = this.tick; // just used: not reaped before idleTimeoutMillis
    if (this.poolState !== 'open' || slot.expired) {
      this.offer(slot); // retired now, or once its requests in flight settle (the grace covers them)
      return this.checkDrained();
    }
    if (alive) {
      // Hot: nothing waiting and no shared request on it: straight back to idle.
      if (this.waitList.size === 0 && this.requestQueue.size === 0 && slot.conn.unanswered === 0) this.idle.push(slot);
      else this.offer(slot, true);
    }
    // Otherwise a pinned connection is reconnecting: it offers itself when back.
    this.checkDrained();
  }

  /**
   * Gives a lease back to be closed and replaced. Its connection's callbacks
   * see a reset with `error`. ERR_NOT_LEASED as for `release`.
   */
  destroy(lease: Lease<F>, error?: Error): void {
    if (error !== undefined && !isError(error)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid argument of destroy(): expected an Error or nothing.`, {
        pool: this.name,
      });
    }
    const slot = this.checkLease(lease, 'destroy');
    this.endLease(lease);
    if (slot.lease !== lease) return;
    if (!slot.retired && slot.conn.socket === lease.socket) {
      // A reset of the connection, with the lease still pinning it: replaced, never lent again.
      slot.conn.reset(
        error ??
          new ConnmanError(
            'ERR_CONNECTION_CLOSED',
            `A lease of pool '${this.name}' on ${describeEndpoint(slot.conn.endpoint)} was destroyed by its borrower.`,
            { pool: this.name },
          ),
      );
    }
    slot.lease = undefined;
    if (!slot.retired) {
      if (!slot.pinned) this.retire(slot, error);
      // A pinned connection that reconnected under the lease (its new socket was never lent) is offered again;
      // one that is reconnecting now offers itself once back.
      else if (slot.conn.connected && this.poolState === 'open') this.offer(slot);
    }
    this.pump();
    this.checkDrained();
  }

  /**
   * A ready connection that is not leased at this moment, round-robin, for
   * shared use (pipelined or multiplexed protocols). Throws ERR_NO_CONNECTION.
   */
  pick(): PersistentConnection<F> {
    if (this.poolState === 'closing' || this.poolState === 'closed') throw this.closedError();
    for (;;) {
      // Read afresh on each pass: a socket found dead is reported lost, which can retire its slot.
      const ring = this.ring;
      const n = ring.length;
      let found = -1;
      for (let i = 0; i < n; i++) {
        const index = (this.pickCursor + i) % n;
        if (this.shareable(ring[index])) {
          found = index;
          break;
        }
      }
      if (found < 0) break;
      const slot = ring[found];
      if (!slot.conn.checkSocket()) continue;
      this.pickCursor = found + 1;
      slot.idleTick = this.tick; // in use: not reaped
      return slot.conn;
    }
    throw new ConnmanError(
      'ERR_NO_CONNECTION',
      `Pool '${this.name}' has no connected connection that is free to share (${this.describeCounts()}); wait for a connect event or raise min.`,
      { pool: this.name, cause: this.lastError },
    );
  }

  /** The pool's connection to `port` (and `host`, if given), or to a Unix socket path. */
  getConnection(port: number | string, host?: string): PersistentConnection<F> | undefined {
    for (const slot of this.ring) {
      const ep = slot.conn.endpoint;
      if (typeof port === 'string' ? ep.path === port : ep.port === port && (host === undefined || ep.host === host))
        return slot.conn;
    }
    return undefined;
  }

  /**
   * Adds a persistent connection of its own (connman's pool API): connected at
   * once, kept and reconnected until the pool closes, leased and picked like
   * the others. Counts toward `max`.
   */
  addConnection(endpoint: Endpoint, callbacks?: ConnectionCallbacks<F>): PersistentConnection<F> {
    if (this.poolState === 'closing' || this.poolState === 'closed') throw this.closedError();
    const checked = checkEndpoint(`addConnection() of pool '${this.name}'`, 'endpoint', endpoint, this.name);
    if (callbacks !== undefined) checkCallbacks(callbacks, 'callbacks', this.name);
    if (this.slots.size >= this.options.max) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Pool '${this.name}' already has max (${this.options.max}) connections; raise the option 'max' to add more.`,
        { pool: this.name },
      );
    }
    this.recordFor(checked);
    const slot = this.createSlot([checked], true, callbacks);
    this.start();
    slot.conn.connect();
    return slot.conn;
  }

  /**
   * Adds callbacks run for every connection of the pool, present and future
   * (the Nest layer binds `@OnData` and the like this way). Returns a remover,
   * which takes them off every connection the pool has then.
   */
  addHandlers(callbacks: ConnectionCallbacks<F>): () => void {
    checkCallbacks(callbacks, 'handlers', this.name);
    this.handlerSets.push(callbacks);
    for (const slot of this.ring) slot.conn.addCallbacks(callbacks);
    return () => {
      const index = this.handlerSets.indexOf(callbacks);
      if (index >= 0) this.handlerSets.splice(index, 1);
      for (const slot of this.ring) slot.conn.removeCallbacks(callbacks);
    };
  }

  /** Counts and per-endpoint state, derived on demand. */
  stats(): PoolStats {
    let connected = 0;
    let leased = 0;
    let pendingRequests = 0;
    const perEndpoint = new Map<string, { connections: number; connected: number }>();
    for (const slot of this.ring) {
      const key = describeEndpoint(slot.conn.endpoint);
      const entry = perEndpoint.get(key) ?? { connections: 0, connected: 0 };
      entry.connections++;
      if (slot.conn.connected) {
        connected++;
        entry.connected++;
      }
      if (slot.lease !== undefined) leased++;
      pendingRequests += slot.conn.pendingRequests;
      perEndpoint.set(key, entry);
    }
    const endpoints: EndpointStats[] = [];
    for (const [endpoint, record] of this.endpointRecords) {
      const counts = perEndpoint.get(endpoint) ?? { connections: 0, connected: 0 };
      endpoints.push({ endpoint, ...counts, ...record });
    }
    return {
      name: this.name,
      state: this.poolState,
      min: this.options.min,
      max: this.options.max,
      size: this.slots.size,
      connected,
      idle: this.idle.size,
      leased,
      pending: this.slots.size - connected,
      waiting: this.waitList.size,
      pendingRequests,
      waitingRequests: this.requestQueue.size,
      endpoints,
    };
  }

  /**
   * Closes gracefully: new acquires, waiters and waiting requests get
   * ERR_POOL_CLOSED, idle connections close at once, leases and requests in
   * flight get `timeoutMillis` to come back, then everything closes. Resolves
   * when no socket or timer of the pool is left.
   */
  close(options: CloseOptions = {}): Promise<void> {
    let timeoutMillis: number;
    try {
      timeoutMillis = closeTimeoutOf(options, 'close()', this.name);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.closePromise) return this.closePromise;
    this.closePromise = this.shutdown(timeoutMillis);
    return this.closePromise;
  }

  // ---- opening and creating -------------------------------------------------

  private start(): void {
    if (this.poolState !== 'new') return;
    this.poolState = 'open';
    this.reaper = setInterval(() => this.reap(), this.options.reapIntervalMillis).unref();
    this.pump();
  }

  /** Creates connections while below min, or while demand outnumbers the connections on their way. */
  private pump(): void {
    if (this.pumping || this.poolState !== 'open' || this.options.endpoints.length === 0) return;
    this.pumping = true;
    try {
      const { min, max, maxConcurrentCreates } = this.options;
      while (this.slots.size < max && this.creating < maxConcurrentCreates) {
        if (this.slots.size >= min && this.demand() <= this.upcoming()) break;
        const wait = this.nextCreateAt - Date.now();
        if (wait > 0) {
          this.createTimer ??= setTimeout(() => {
            this.createTimer = undefined;
            this.pump();
          }, wait);
          break;
        }
        const slot = this.createSlot(this.options.endpoints, false, undefined);
        slot.creating = true;
        this.creating++;
        slot.conn.connect();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Connections wanted: one per waiting acquire, one for waiting requests while none is ready to take them. */
  private demand(): number {
    let wanted = this.waitList.size + (this.wantSpare ? 1 : 0);
    if (this.requestQueue.size !== 0) wanted++;
    return wanted;
  }

  /** Connections neither ready nor leased: they will serve waiters when up. */
  private upcoming(): number {
    let count = 0;
    for (const slot of this.ring) if (!slot.conn.connected && slot.lease === undefined) count++;
    return count;
  }

  private createSlot(
    endpoints: readonly Endpoint[],
    pinned: boolean,
    callbacks: ConnectionCallbacks<F> | undefined,
  ): Slot {
    const conn = createPooledConnection<F>(endpoints, {
      resolved: this.options.connection,
      owner: this.owner,
      clock: this.requestClock,
      endpointOffset: this.endpointCursor++,
    });
    if (callbacks !== undefined) conn.addCallbacks(callbacks);
    for (const set of this.handlerSets) conn.addCallbacks(set);
    const slot = new Slot(conn, pinned);
    // Each time its last unsettled request settles, it may be lent, retired, or closed.
    conn.onDrained = () => this.drainedOf(slot);
    this.slots.set(conn, slot);
    this.ring.push(slot);
    return slot;
  }

  // ---- connection events -----------------------------------------------------

  private connectionUp(conn: PersistentConnection<AnyFrame>, first: boolean): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    if (slot.creating) {
      slot.creating = false;
      this.creating--;
    }
    slot.heartbeat = false;
    this.wantSpare = false;
    this.lastError = undefined;
    slot.upSince = Date.now();
    // The peer is reachable: new connections need not wait out a long delay (at most the floor).
    // The create backoff itself starts over only once a connection proves stable (see reap()),
    // so a peer that accepts and drops at once keeps creation on the schedule.
    this.nextCreateAt = Math.min(this.nextCreateAt, slot.upSince + this.options.connection.backoff.initialDelayMillis);
    const record = this.recordFor(conn.endpoint);
    record.consecutiveFailures = 0;
    record.lastError = undefined;
    if (this.options.maxLifetimeMillis !== 0 && !slot.pinned) {
      const lifetime = this.options.maxLifetimeMillis;
      clearTimeout(slot.lifetimeTimer);
      slot.lifetimeTimer = setTimeout(
        () => this.expire(slot),
        lifetime - Math.floor(Math.random() * lifetime * 0.1),
      ).unref();
    }
    this.fire(first ? 'connect' : 'reconnect', conn);
    // The peer is back: siblings waiting out a backoff delay to it retry now (spread over the floor).
    const window = this.options.connection.backoff.initialDelayMillis;
    for (const other of this.ring)
      if (other !== slot && other.conn.endpoint === conn.endpoint) other.conn.retrySoon(window);
    slot.idleTick = this.tick; // a fresh connection is not reaped before idleTimeoutMillis
    if (slot.lease === undefined && !slot.validating && !slot.retired && conn.connected) this.offer(slot);
    this.settleOpenWaiters();
    this.pump();
  }

  /** A ready connection was lost; its reset callbacks run next: it must be nobody's to take meanwhile. */
  private connectionLost(conn: PersistentConnection<AnyFrame>): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    this.idle.remove(slot);
    slot.heartbeat = false;
    clearTimeout(slot.lifetimeTimer);
    slot.lifetimeTimer = undefined;
  }

  private connectionDown(
    conn: PersistentConnection<AnyFrame>,
    error: Error,
    wasConnected: boolean,
    endpoint: Endpoint,
  ): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) {
      // Retired while its loss was being reported (a lease destroyed in onReset): the loss still counts.
      if (wasConnected && this.poolState !== 'closed') this.fire('reset', error, conn);
      return;
    }
    this.idle.remove(slot);
    if (wasConnected) {
      // Lost young: the peer drops what it accepts; the next new connection waits out the create backoff.
      // (Not when the pool reconnected it itself: that says nothing of the peer.)
      if (!conn.recycling && Date.now() - slot.upSince < this.options.connection.backoff.resetAfterMillis) {
        this.nextCreateAt = Math.max(this.nextCreateAt, Date.now() + this.createBackoff.next());
      }
      this.fire('reset', error, conn);
    } else {
      this.lastError = error;
      const record = this.recordFor(endpoint);
      record.consecutiveFailures++;
      record.failures++;
      record.lastError = describeError(error);
      this.fire('createError', error, endpoint);
    }
    if (slot.retired) return;
    if (slot.creating) {
      // The first attempt of a new connection failed.
      slot.creating = false;
      this.creating--;
      if (this.slots.size > this.options.min || this.poolState !== 'open') {
        this.retire(slot, error);
        this.nextCreateAt = Date.now() + this.createBackoff.next();
      }
    } else if (
      !slot.pinned &&
      (slot.lease !== undefined ||
        slot.expired ||
        (this.slots.size > this.options.min && !conn.recycling) ||
        this.poolState !== 'open')
    ) {
      // Never hand a connection that reset under a borrower to anyone else: replace it.
      this.retire(slot, error);
    }
    // Otherwise it reconnects in place, on its own backoff.
    this.pump();
    this.checkDrained();
  }

  /**
   * Emits one of the pool's events. A listener that throws is reported (the
   * `error` event, else the logger): it never breaks the pool's bookkeeping
   * or a caller's acquire.
   */
  private fire<K extends keyof PoolEvents<F>>(event: K, ...args: PoolEvents<F>[K]): void {
    try {
      (this.emit as (event: string, ...args: unknown[]) => boolean)(event as string, ...args);
    } catch (error) {
      this.reportFailure(error, `'${String(event)}' event listener of pool '${this.name}'`, undefined);
    }
  }

  private reportFailure(error: unknown, what: string, conn: PersistentConnection<AnyFrame> | undefined): void {
    if (this.poolState === 'closed') return;
    const err = toError(error);
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', err, conn as PersistentConnection<F>);
        return;
      } catch (thrown) {
        error = thrown;
      }
    }
    this.options.connection.logger.error(
      `${what} failed: ${describeError(error)}`,
      isError(error) ? error.stack : undefined,
    );
  }

  private callbackFailed(conn: PersistentConnection<AnyFrame>, error: unknown, callback: string): void {
    this.reportFailure(
      error,
      `${callback} callback for pool '${this.name}' (${describeEndpoint(conn.endpoint)})`,
      conn,
    );
  }

  /** A connection of the pool was disconnected by someone else (a handshake, `Connman.disconnect`): replace it. */
  private connectionClosed(conn: PersistentConnection<AnyFrame>): void {
    const slot = this.slots.get(conn);
    if (slot === undefined || slot.retired) return; // the pool retired it itself
    this.retire(
      slot,
      new ConnmanError(
        'ERR_DISCONNECTED',
        `A connection of pool '${this.name}' was disconnected from outside the pool.`,
        {
          pool: this.name,
        },
      ),
    );
    this.pump();
  }

  private heartbeatStart(conn: PersistentConnection<AnyFrame>): boolean {
    const slot = this.slots.get(conn);
    if (slot === undefined || slot.lease !== undefined || slot.validating || slot.retired) return false;
    if (this.poolState !== 'open') return false;
    this.idle.remove(slot);
    slot.heartbeat = true;
    return true;
  }

  private heartbeatEnd(conn: PersistentConnection<AnyFrame>): void {
    const slot = this.slots.get(conn);
    if (slot === undefined || !slot.heartbeat) return;
    slot.heartbeat = false;
    if (slot.lease === undefined && !slot.validating && !slot.retired && conn.connected) this.offer(slot);
  }

  // ---- lending ---------------------------------------------------------------

  private readAcquireOptions(options: AcquireOptions): { timeoutMillis: number; signal: AbortSignal | undefined } {
    const scope = `acquire() on pool '${this.name}'`;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Invalid options for ${scope}: expected { signal?, timeoutMillis? }.`,
        {
          pool: this.name,
        },
      );
    }
    for (const key in options) {
      if (key !== 'signal' && key !== 'timeoutMillis') {
        throw new ConnmanError(
          'ERR_INVALID_OPTIONS',
          `Unknown option '${key}' for ${scope}; known options: signal, timeoutMillis.`,
          { pool: this.name },
        );
      }
    }
    let timeoutMillis = this.options.acquireTimeoutMillis;
    const given = options.timeoutMillis;
    if (given !== undefined) {
      if (typeof given !== 'number' || !Number.isInteger(given) || given < 0 || given > 2_147_483_647) {
        throw new OptionReader(scope, options, this.name).fail(
          'timeoutMillis',
          'an integer from 0 to 2147483647',
          given,
        );
      }
      timeoutMillis = given;
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new OptionReader(scope, options, this.name).fail('signal', 'an AbortSignal', signal);
    }
    return { timeoutMillis, signal };
  }

  /** An idle connection whose socket is still usable (a dead one is reported and replaced). */
  private takeIdle(): Slot | undefined {
    const idle = this.idle;
    let slot: Slot | undefined;
    while ((slot = this.fifo ? idle.head : idle.tail) !== undefined) {
      idle.remove(slot);
      if (slot.conn.checkSocket() && (slot.conn.pendingRequests === 0 || this.lendable(slot))) return slot;
    }
    return undefined;
  }

  /**
   * Whether a connection with no unsettled pool request can be lent now: a
   * borrower must never read a reply meant for someone else. Requests made
   * on it directly (`pick().request()`) keep it back until they settle (it
   * is offered again then). Only late replies left (of requests that timed
   * out or were aborted after they were written): nobody waits for them, so
   * the connection is reconnected at once (nothing is lost) and offered
   * again once back.
   */
  private lendable(slot: Slot): boolean {
    const conn = slot.conn;
    if (conn.pendingRequests === 0) return true;
    if (conn.unanswered !== 0) return false;
    // A borrower is asking now, and nobody waits for those replies: reconnected at once (without
    // backoff: not a failure of the peer), rather than making the borrower wait for them.
    conn.recycle(
      new ConnmanError(
        'ERR_CONNECTION_CLOSED',
        `Late replies of requests that timed out or were aborted were still due on ${describeEndpoint(conn.endpoint)}; the connection is reconnected before it is lent, so that its borrower never reads them.`,
        { pool: this.name },
      ),
    );
    return false;
  }

  /** Hands idle connections to waiters (only needed while validation runs, or after a requeue). */
  private serveIdle(): void {
    while (this.waitList.size !== 0 && this.idle.size !== 0) {
      const slot = this.takeIdle();
      if (slot === undefined) return;
      this.handOut(slot, this.waitList.shift()!);
    }
  }

  /**
   * A connection became available: to the oldest waiter, else to waiting
   * requests, else idle. Only a connection with no unsettled shared request is
   * lendable (a borrower must not read someone else's reply): one that has
   * some is offered again when they settle (`drainedOf`).
   */
  private offer(slot: Slot, socketChecked = false): void {
    if (slot.expired || this.poolState !== 'open') {
      if (slot.conn.unanswered === 0) {
        this.retire(slot, undefined);
        this.pump();
      }
      return; // otherwise retired (or closed) once its requests settle
    }
    if (!socketChecked && !slot.conn.checkSocket()) return; // lost: its reset was reported and handled
    if (slot.conn.unanswered !== 0) return;
    if (this.waitList.size !== 0) {
      if (!this.lendable(slot)) return; // reset: offered again once back
      this.handOut(slot, this.waitList.shift()!);
      return;
    }
    if (this.requestQueue.size !== 0) {
      this.serveRequests();
      if (slot.conn.unanswered !== 0) return; // it took some: offered again once they settle
    }
    // Not marked as used here: a heartbeat ending offers it too, and heartbeats do not keep it from the reaper.
    // (Late replies may still be due on it: it is made clean when it is next lent, see lendable().)
    this.idle.push(slot);
  }

  private handOut(slot: Slot, waiter: Waiter): void {
    if (this.options.validate === undefined) {
      this.grant(slot, waiter);
      return;
    }
    // validate() is user code: a close() or an abort it causes must reach this waiter.
    this.waitList.hold(waiter);
    const verdict = this.validateNow(slot);
    if (typeof verdict === 'object') {
      this.startValidation(slot, waiter.settled ? undefined : waiter, verdict);
      return;
    }
    if (verdict === true && this.poolState === 'open' && slot.conn.checkSocket()) {
      this.grant(slot, waiter); // the next waiter gets it if this one left during validate()
      return;
    }
    // validate() closed the pool (the slot is retired), or the socket died (reported lost):
    if (verdict === true) this.offer(slot);
    // refused, or dead: the waiter keeps its turn.
    if (this.poolState === 'open') {
      this.waitList.requeue(waiter);
      this.serveIdle();
      this.pump();
    }
  }

  /** The oldest queued waiter, claimed for a grant. */
  private nextClaimed(): Waiter | undefined {
    let waiter: Waiter | undefined;
    while ((waiter = this.waitList.shift()) !== undefined) if (this.waitList.claim(waiter)) return waiter;
    return undefined;
  }

  private grant(slot: Slot, waiter: Waiter): void {
    if (this.waitList.claim(waiter)) waiter.resolve(this.lend(slot, waiter.stack, waiter));
    else this.offer(slot);
  }

  private lend(slot: Slot, stack: string | undefined, waiter: Waiter | undefined): Lease<F> {
    // Hot: kept small so that it inlines; leak detection and events are out of line.
    const lease = new (Lease as unknown as LeaseConstructor<F>)(this, slot, slot.conn.socket!);
    slot.lease = lease;
    if (this.options.leakDetectionThresholdMillis !== 0) this.watchLeak(lease, slot, stack);
    if (this.leaseListeners !== 0) this.announceLease(lease, waiter);
    return lease;
  }

  private watchLeak(lease: Lease<F>, slot: Slot, stack: string | undefined): void {
    const threshold = this.options.leakDetectionThresholdMillis;
    const where = stack ?? captureStack();
    lease.leakTimer = setTimeout(() => {
      lease.leakTimer = undefined;
      if (lease.done || this.poolState === 'closed') return;
      if (leakChannel.hasSubscribers) {
        leakChannel.publish({
          pool: this.name,
          endpoint: describeEndpoint(slot.conn.endpoint),
          lease,
          heldMillis: threshold,
          stack: where,
        });
      }
      this.options.connection.logger.warn(
        `A lease on pool '${this.name}' has been held for more than ${threshold} ms (leakDetectionThresholdMillis); was release() forgotten? Acquired at:\n${where}`,
      );
    }, threshold).unref();
  }

  private announceLease(lease: Lease<F>, waiter: Waiter | undefined): void {
    // A waiter's start is its deadline minus its timeout (no clock read on the hot path).
    const waited = waiter === undefined ? 0 : performance.now() - (waiter.deadline - waiter.timeoutMillis);
    this.fire('acquire', lease, waited);
  }

  private checkLease(lease: Lease<F>, verb: string): Slot {
    if (!(lease instanceof Lease) || lease.pool !== this) {
      throw new ConnmanError(
        'ERR_NOT_LEASED',
        `Cannot ${verb}: this is not a lease of pool '${this.name}'. Call ${verb}() on the pool the lease came from.`,
        { pool: this.name },
      );
    }
    if (lease.done) throw this.notLeasedError(`Cannot ${verb}:`, 'was already released or destroyed');
    return lease.slot;
  }

  private notLeasedError(what: string, why: string): ConnmanError {
    return new ConnmanError('ERR_NOT_LEASED', `${what} this lease of pool '${this.name}' ${why}.`, { pool: this.name });
  }

  private endLease(lease: Lease<F>): void {
    lease.done = true;
    if (lease.leakTimer !== undefined) {
      clearTimeout(lease.leakTimer);
      lease.leakTimer = undefined;
    }
    if (this.leaseListeners !== 0 && this.poolState !== 'closed') this.fire('release', lease);
  }

  // ---- requests ----------------------------------------------------------------

  /** Can `slot` take shared traffic (pick, request) now? */
  private shareable(slot: Slot): boolean {
    return slot.lease === undefined && !slot.validating && !slot.expired && !slot.retired && slot.conn.connected;
  }

  /**
   * The ready, unleased connection with the fewest unanswered requests
   * (round-robin among equals). While acquires wait, the connection that will
   * drain first (the fewest unsettled requests) is kept for them: it takes no
   * more shared requests, the others still do (with one connection, requests
   * then wait their turn behind the waiting acquire).
   */
  private pickForRequest(): Slot | undefined {
    for (;;) {
      // Read afresh on each pass: a socket found dead is reported lost, which can retire its slot.
      const ring = this.ring;
      const n = ring.length;
      let reserved: Slot | undefined;
      if (this.waitList.size !== 0) {
        let least = Infinity;
        for (let i = 0; i < n; i++) {
          const slot = ring[i];
          if (this.shareable(slot) && slot.conn.unanswered < least) {
            reserved = slot;
            least = slot.conn.unanswered;
          }
        }
      }
      let best: Slot | undefined;
      let bestIndex = 0;
      let fewest = Infinity;
      let index = this.requestCursor;
      for (let i = 0; i < n; i++, index++) {
        if (index >= n) index = 0;
        const slot = ring[index];
        if (slot === reserved || !this.shareable(slot)) continue;
        const count = slot.conn.pendingRequests;
        if (count < fewest) {
          best = slot;
          bestIndex = index;
          fewest = count;
          if (count === 0) break;
        }
      }
      if (best === undefined) return undefined;
      // A socket its user destroyed is reported lost; look again.
      if (!best.conn.checkSocket()) continue;
      this.requestCursor = bestIndex + 1;
      return best;
    }
  }

  /** Writes a request on `slot`, which is not lendable until its requests settle. */
  private sendOn(slot: Slot, request: Request<F>): void {
    (slot.conn as PersistentConnection<F>).send(request);
    slot.idleTick = this.tick; // in use: not reaped
    if (slot.inIdle) this.idle.remove(slot);
  }

  /** Writes waiting requests on ready connections, oldest first. */
  private serveRequests(): void {
    let request: Request<F> | undefined;
    while ((request = this.requestQueue.first) !== undefined) {
      const slot = this.pickForRequest();
      if (slot === undefined) return;
      this.sendOn(slot, request);
    }
  }

  // ---- retiring ------------------------------------------------------------------

  private retire(slot: Slot, reason: Error | undefined): void {
    if (slot.retired) return;
    slot.retired = true;
    clearTimeout(slot.lifetimeTimer);
    slot.lifetimeTimer = undefined;
    if (slot.validating) this.abandonValidation(slot);
    const lease = slot.lease;
    if (lease !== undefined && lease.leakTimer !== undefined) {
      clearTimeout(lease.leakTimer);
      lease.leakTimer = undefined;
    }
    this.slots.delete(slot.conn);
    const index = this.ring.indexOf(slot);
    if (index >= 0) this.ring.splice(index, 1);
    this.idle.remove(slot);
    if (slot.creating) {
      slot.creating = false;
      this.creating--;
    }
    const closing = slot.conn.disconnect();
    this.disconnecting.add(closing);
    void closing.then(() => this.disconnecting.delete(closing));
    this.fire('destroy', slot.conn, reason);
    this.checkDrained(); // closing: this may have been the last one held
  }

  // ---- validation ------------------------------------------------------------

  /** `true` / `false` when known at once, else the pending promise. */
  private validateNow(slot: Slot): boolean | PromiseLike<unknown> {
    const socket = slot.conn.socket;
    if (socket === undefined) return false;
    let result: unknown;
    try {
      result = this.options.validate!(socket, slot.conn);
    } catch (error) {
      this.validationFailed(slot, error);
      return false;
    }
    let thenable: boolean;
    try {
      // A `then` getter is user code too.
      thenable =
        result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function';
    } catch (error) {
      this.validationFailed(slot, error);
      return false;
    }
    if (thenable) return result as PromiseLike<unknown>;
    if (result === false) {
      this.validationFailed(slot, undefined);
      return false;
    }
    return true;
  }

  /** An asynchronous validation, bounded by validateTimeoutMillis and the waiter's deadline. */
  private startValidation(slot: Slot, waiter: Waiter | undefined, pending: PromiseLike<unknown>): void {
    slot.validating = true;
    slot.waiter = waiter;
    if (waiter !== undefined) this.waitList.hold(waiter);
    const token = ++slot.validationToken;
    // Bounded by validateTimeoutMillis only: a waiter whose deadline comes first fails at its
    // deadline (its own clock), and the outcome goes to the next waiter; an impatient caller
    // does not condemn a healthy connection.
    const bound = this.options.validateTimeoutMillis;
    slot.validationTimer = setTimeout(() => {
      slot.validationTimer = undefined;
      this.validationSettled(slot, token, this.validationTimeoutError(bound));
    }, bound);
    Promise.resolve(pending).then(
      (value) => this.validationSettled(slot, token, value === false ? null : undefined),
      (error: unknown) => this.validationSettled(slot, token, error ?? null),
    );
  }

  /** `failure` undefined: passed; null: returned false; otherwise the error. */
  private validationSettled(slot: Slot, token: number, failure: unknown): void {
    if (slot.validationToken !== token || !slot.validating) return; // abandoned, or already settled
    const waiter = slot.waiter;
    slot.validating = false;
    slot.waiter = undefined;
    clearTimeout(slot.validationTimer);
    slot.validationTimer = undefined;
    if (!slot.retired) {
      if (failure === undefined && slot.expired) {
        this.offer(slot); // past its lifetime meanwhile: retired, not lent
      } else if (failure === undefined && slot.conn.checkSocket()) {
        // Just validated: the waiter gets it, or (if it left meanwhile) the next one, without validating again.
        const taker =
          waiter !== undefined && this.waitList.claim(waiter)
            ? waiter
            : this.poolState === 'open'
              ? this.nextClaimed()
              : undefined;
        if (taker !== undefined) taker.resolve(this.lend(slot, taker.stack, taker));
        else this.offer(slot);
        return this.checkDrained();
      }
      if (failure !== undefined && !slot.retired) this.validationFailed(slot, failure === null ? undefined : failure);
    }
    if (waiter !== undefined && this.poolState === 'open') {
      this.waitList.requeue(waiter);
      this.serveIdle();
    }
    this.pump();
    this.checkDrained();
  }

  /** The slot is retired while validated: the waiter keeps its turn (or the pool is closing and settles it). */
  private abandonValidation(slot: Slot): void {
    const waiter = slot.waiter;
    slot.validating = false;
    slot.waiter = undefined;
    slot.validationToken++;
    clearTimeout(slot.validationTimer);
    slot.validationTimer = undefined;
    if (waiter !== undefined && this.poolState === 'open') {
      this.waitList.requeue(waiter);
      queueMicrotask(() => {
        this.serveIdle();
        this.pump();
      });
    }
  }

  private validationFailed(slot: Slot, cause: unknown): void {
    const error = new ConnmanError(
      'ERR_VALIDATION_FAILED',
      `validate() rejected a connection of pool '${this.name}' to ${describeEndpoint(slot.conn.endpoint)}${cause === undefined ? '' : `: ${describeError(cause)}`}; it is replaced.`,
      { pool: this.name, cause },
    );
    this.idle.remove(slot);
    // A replacement is a new connection: it waits out the create backoff, so a
    // peer that always fails validation cannot cause a hot loop.
    this.nextCreateAt = Date.now() + this.createBackoff.next();
    if (slot.pinned) slot.conn.reset(error);
    else this.retire(slot, error);
  }

  private validationTimeoutError(bound: number): ConnmanError {
    return new ConnmanError(
      'ERR_VALIDATION_FAILED',
      `validate() did not settle within ${bound} ms (validateTimeoutMillis or the caller's deadline).`,
      { pool: this.name },
    );
  }

  // ---- errors of waiters ---------------------------------------------------------

  private acquireTimeoutError(timeoutMillis: number): ConnmanError {
    const error = this.buildAcquireTimeoutError(timeoutMillis);
    if (acquireTimeoutChannel.hasSubscribers) {
      acquireTimeoutChannel.publish({ pool: this.name, endpoint: this.endpointLabel, error, timeoutMillis });
    }
    return error;
  }

  private buildAcquireTimeoutError(timeoutMillis: number): ConnmanError {
    const cause = this.lastError;
    // Waiters that time out together (one timer, many deadlines) share one message.
    let cached = this.timeoutMessage;
    if (cached === undefined || cached.millis !== timeoutMillis) {
      cached = this.timeoutMessage = {
        millis: timeoutMillis,
        text:
          `Timed out after ${timeoutMillis} ms waiting for a connection from pool '${this.name}' (${this.describeCounts()})` +
          (cause ? `; last connect error: ${describeError(cause)}` : '') +
          '. Release leases sooner, or raise max or acquireTimeoutMillis.',
      };
      queueMicrotask(() => (this.timeoutMessage = undefined));
    }
    const message = cached.text;
    // The stack would show only a timer callback, never the caller: skip capturing it.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new ConnmanError('ERR_ACQUIRE_TIMEOUT', message, { pool: this.name, cause });
    Error.stackTraceLimit = limit;
    return error;
  }

  private abortedError(reason: unknown): ConnmanError {
    return new ConnmanError('ERR_ACQUIRE_ABORTED', `acquire() on pool '${this.name}' was aborted by its signal.`, {
      pool: this.name,
      cause: reason,
    });
  }

  // ---- housekeeping -------------------------------------------------------------

  /** Closes connections idle past idleTimeoutMillis while above min (oldest first, pinned ones kept). */
  private reap(): void {
    this.tick++;
    // A connection up for resetAfterMillis proves the peer stable: new connections start over.
    if (this.createBackoff.attempts !== 0) {
      const stableSince = Date.now() - this.options.connection.backoff.resetAfterMillis;
      for (const slot of this.ring) {
        if (slot.conn.connected && slot.upSince <= stableSince) {
          this.createBackoff.reset();
          break;
        }
      }
    }
    const { idleTimeoutMillis, reapIntervalMillis, min } = this.options;
    const ticksNeeded = Math.ceil(idleTimeoutMillis / reapIntervalMillis) + 1;
    // Use (a lease, pick(), a request) marks a connection's idleTick; heartbeats do not.
    let slot = this.idle.head;
    while (slot !== undefined && this.slots.size > min) {
      const next = slot.idleNext;
      if (!slot.pinned && this.tick - slot.idleTick >= ticksNeeded) this.retire(slot, undefined);
      slot = next;
    }
  }

  private expire(slot: Slot): void {
    slot.lifetimeTimer = undefined;
    if (slot.retired) return;
    if (slot.lease !== undefined || slot.validating || slot.heartbeat || slot.conn.unanswered !== 0) {
      slot.expired = true; // retired once free (release, validation, heartbeat, its requests settled)
      this.idle.remove(slot);
      return;
    }
    this.retire(slot, undefined);
    this.pump();
  }

  /** The last unsettled request on `slot` settled: it may be lent again, retired (expired), or closed. */
  private drainedOf(slot: Slot): void {
    if (slot.retired || this.poolState !== 'open') return this.checkDrained();
    if (slot.lease !== undefined || slot.validating || slot.heartbeat || slot.inIdle || !slot.conn.connected) return;
    this.offer(slot);
  }

  private recordFor(endpoint: Endpoint): EndpointRecord {
    const key = describeEndpoint(endpoint);
    let record = this.endpointRecords.get(key);
    if (record === undefined) {
      record = { consecutiveFailures: 0, failures: 0, lastError: undefined };
      this.endpointRecords.set(key, record);
    }
    return record;
  }

  private connectedCount(): number {
    let count = 0;
    for (const slot of this.ring) if (slot.conn.connected) count++;
    return count;
  }

  private settleOpenWaiters(): void {
    if (this.openWaiters.length === 0 || this.connectedCount() < this.options.min) return;
    const waiters = this.openWaiters;
    this.openWaiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  private openTimeoutError(timeoutMillis: number): ConnmanError {
    const cause = this.lastError;
    return new ConnmanError(
      'ERR_CONNECT_TIMEOUT',
      `Pool '${this.name}' could not open ${this.options.min} connection(s) to ${this.options.endpoints.map(describeEndpoint).join(', ')} within ${timeoutMillis} ms ` +
        `(${this.connectedCount()} up)` +
        (cause ? `; last connect error: ${describeError(cause)}` : '') +
        '. The pool keeps trying in the background; check the endpoint, or raise openTimeoutMillis.',
      { pool: this.name, cause },
    );
  }

  private closedError(): ConnmanError {
    return new ConnmanError('ERR_POOL_CLOSED', `Pool '${this.name}' is ${this.poolState}; it lends nothing more.`, {
      pool: this.name,
    });
  }

  private describeCounts(): string {
    let leased = 0;
    for (const slot of this.ring) if (slot.lease !== undefined) leased++;
    return `size ${this.slots.size}/${this.options.max}, leased ${leased}, idle ${this.idle.size}, waiting ${this.waitList.size}`;
  }

  // ---- closing -------------------------------------------------------------------

  private async shutdown(timeoutMillis: number): Promise<void> {
    // 1. Lend nothing more; stop creating and reaping.
    this.poolState = 'closing';
    clearTimeout(this.createTimer);
    this.createTimer = undefined;
    clearInterval(this.reaper);
    // 2. Every waiter (queued or validating), waiting request and open() gets ERR_POOL_CLOSED.
    this.waitList.failAll(() => this.closedError());
    let request: Request<F> | undefined;
    while ((request = this.requestQueue.first) !== undefined) request.fail(this.closedError());
    for (const open of this.openWaiters) {
      clearTimeout(open.timer);
      open.reject(this.closedError());
    }
    this.openWaiters = [];
    // 3. Close what nobody holds; validations in flight are abandoned.
    for (const slot of [...this.ring]) {
      if (slot.validating) this.abandonValidation(slot);
      if (slot.lease === undefined && slot.conn.unanswered === 0) this.retire(slot, undefined);
      // Otherwise it is waited for: released, or its requests settled (drainedOf).
    }
    // 4. Give leases and requests in flight the grace period to come back.
    if (this.ring.length !== 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, timeoutMillis);
        this.checkDrained();
      });
      clearTimeout(timer);
      this.drained = undefined;
    }
    // 5. Close the rest (requests still unanswered fail), and wait until every socket is closed.
    for (const slot of [...this.ring]) this.retire(slot, undefined);
    await Promise.all(this.disconnecting);
    this.requestClock.stopIfIdle();
    this.poolState = 'closed';
    this.fire('close');
  }

  private checkDrained(): void {
    if (this.drained === undefined) return;
    for (const slot of this.ring) {
      if (slot.lease !== undefined || slot.validating || slot.conn.unanswered !== 0) return;
    }
    this.drained();
  }

  /** A short, secret-free description. */
  override toString(): string {
    return `ConnectionPool(${this.name}, ${this.poolState}, ${this.describeCounts()})`;
  }

  /** What `util.inspect` shows: `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }
}

function safeBytes(payload: unknown): number {
  return typeof payload === 'string' || payload instanceof Uint8Array ? payloadBytes(payload) : 0;
}

/**
 * @internal The grace period of `close(options)` (default 10 s), checked
 * before anything changes: ERR_INVALID_OPTIONS naming the field otherwise.
 */
export function closeTimeoutOf(options: unknown, call: string, pool?: string): number {
  const scope = pool === undefined ? call : `${call} of pool '${pool}'`;
  if (!isOptionBag(options)) {
    throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid options for ${scope}: expected an object.`, { pool });
  }
  const reader = new OptionReader(scope, options, pool);
  reader.onlyKeys(['timeoutMillis']);
  return reader.int('timeoutMillis', 10_000, 0);
}

function objectOrFail(value: unknown, call: string, pool: string): object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid options for ${call} of pool '${pool}': expected an object.`,
      {
        pool,
      },
    );
  }
  return value;
}

function captureStack(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, captureStack);
  return (holder.stack ?? '').replace(/^Error\n/, '');
}
