import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { Backoff } from './backoff.js';
import { ConnmanError, describeError, isError, toError } from './errors.js';
import { OptionReader, checkEndpoint, describeEndpoint } from './options.js';
import { PersistentConnection, type ConnectionOwner } from './persistent-connection.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './pool-options.js';
import type { ConnectionCallbacks, ConnmanSocket, Endpoint } from './types.js';
import { WaitQueue, type QueueNode } from './wait-queue.js';

/** Options of one `acquire()`. */
export interface AcquireOptions {
  /** Aborting it rejects the waiting acquire with ERR_ACQUIRE_ABORTED. */
  signal?: AbortSignal;
  /** Overrides the pool's `acquireTimeoutMillis` for this call. */
  timeoutMillis?: number;
}

/** Options of `open()`. */
export interface OpenOptions {
  /** Wait until `min` connections are up (default), or resolve at once. */
  wait?: boolean;
  /** Overrides the pool's `openTimeoutMillis`. */
  timeoutMillis?: number;
}

/** Options of `close()`. */
export interface CloseOptions {
  /** How long leases may take to come back before their sockets are destroyed, in ms. Default 10000. */
  timeoutMillis?: number;
}

/** Where a pool is in its life. */
export type PoolState = 'new' | 'open' | 'closing' | 'closed';

/** Per-endpoint part of {@link PoolStats}. */
export interface EndpointStats {
  /** `host:port`, `tls://host:port` or `unix:path`. */
  endpoint: string;
  /** Connections attached to this endpoint (connected or trying). */
  connections: number;
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
  name: string;
  state: PoolState;
  min: number;
  max: number;
  /** Connections of the pool, those being created or reconnecting included. */
  size: number;
  connected: number;
  /** Connected and available for a lease. */
  idle: number;
  leased: number;
  /** Being created or reconnecting. */
  pending: number;
  /** Acquires waiting for a connection. */
  waiting: number;
  endpoints: EndpointStats[];
}

/** Typed events of a {@link ConnectionPool}. */
export interface PoolEvents {
  connect: [connection: PersistentConnection];
  reconnect: [connection: PersistentConnection];
  reset: [error: Error, connection: PersistentConnection];
  /** A connect attempt failed (a new connection, or a reconnect). */
  createError: [error: Error, endpoint: Endpoint];
  acquire: [lease: Lease];
  release: [lease: Lease];
  /** A connection left the pool for good. */
  destroy: [connection: PersistentConnection, reason: Error | undefined];
  /** A user callback threw or rejected (without a listener, it is logged). */
  error: [error: Error, connection: PersistentConnection];
  close: [];
}

/** @internal One connection of the pool and its bookkeeping. */
export class Slot {
  lease: Lease | undefined = undefined;
  /** Being validated for a waiter. */
  busy = false;
  /** First connect attempt still in flight. */
  creating = false;
  retired = false;
  /** Past maxLifetime while leased: retire on release. */
  expired = false;
  idleTick = 0;
  lifetimeTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly conn: PersistentConnection,
    /** Added by `addConnection`: kept and reconnected whatever happens. */
    readonly pinned: boolean,
  ) {}
}

/**
 * A waiting acquire. Waiters with the pool's own timeout join the queue in
 * deadline order and share one timer (armed for the oldest); only a per-call
 * `timeoutMillis` gets a timer of its own.
 */
class Waiter implements QueueNode<Waiter> {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  queued = false;
  settled = false;
  /** Set only for a per-call timeout. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** `performance.now()` value at which the waiter times out. */
  deadline = 0;

  resolve: (lease: Lease) => void = noop;
  reject: (error: Error) => void = noop;

  constructor(
    readonly signal: AbortSignal | undefined,
    readonly timeoutMillis: number,
    readonly stack: string | undefined,
  ) {}
}

function noop(): void {}

/*
 * The executor of a waiter's promise, shared by all: it runs synchronously
 * inside `new Promise`, so the waiter being built is handed over in a
 * module variable instead of a closure allocated per waiting acquire.
 */
let capturing: Waiter | undefined;
function captureResolvers(resolve: (lease: Lease) => void, reject: (error: Error) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

interface SignalEntry {
  count: number;
  readonly listener: () => void;
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
export class Lease implements AsyncDisposable, Disposable {
  /** @internal */ done = false;
  /** @internal */ leakTimer: NodeJS.Timeout | undefined = undefined;

  /** @internal */
  constructor(
    /** The pool the lease came from. */
    readonly pool: ConnectionPool,
    /** @internal */ readonly slot: Slot,
    /** The leased socket. If the connection resets meanwhile, this socket errors and stays dead. */
    readonly socket: ConnmanSocket,
  ) {}

  /** The leased connection. */
  get connection(): PersistentConnection {
    return this.slot.conn;
  }

  /** True once released or destroyed. */
  get released(): boolean {
    return this.done;
  }

  /** Gives the connection back. A second call throws ERR_NOT_LEASED. */
  release(): void {
    this.pool.release(this);
  }

  /** Gives the connection back to be closed and replaced (after a protocol error, say). */
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
}

/**
 * A named set of persistent connections to one or more endpoints, lent out
 * exclusively (leases, FIFO waiters) or shared (`pick()`).
 */
export class ConnectionPool extends EventEmitter<PoolEvents> {
  /** The validated options, defaults filled in. */
  readonly options: ResolvedPoolOptions;
  private poolState: PoolState = 'new';
  private readonly slots = new Map<PersistentConnection, Slot>();
  private readonly ring: Slot[] = [];
  private readonly idle: Slot[] = [];
  private readonly waiters = new WaitQueue<Waiter>();
  private readonly signals = new Map<AbortSignal, SignalEntry>();
  private readonly handlerSets: ConnectionCallbacks[] = [];
  private readonly endpointRecords = new Map<string, EndpointRecord>();
  private readonly disconnecting = new Set<Promise<void>>();
  private readonly createBackoff: Backoff;
  private readonly owner: ConnectionOwner;
  private openWaiters: OpenWaiter[] = [];
  private creating = 0;
  private nextCreateAt = 0;
  private createTimer: NodeJS.Timeout | undefined;
  /** The one timer of the waiters with the pool's own timeout, armed for the oldest deadline. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private reaper: NodeJS.Timeout | undefined;
  private tick = 0;
  private endpointCursor = 0;
  private pickCursor = 0;
  private wantSpare = false;
  private pumping = false;
  private lastError: Error | undefined;
  private closePromise: Promise<void> | undefined;
  private drained: (() => void) | undefined;
  private leaseListeners = 0;

  /** Validates every option (ERR_INVALID_OPTIONS names the option). Connects nothing until `open()`. */
  constructor(options: PoolOptions) {
    super();
    // The hot path emits 'acquire' and 'release' only when someone listens.
    const untyped = this as EventEmitter;
    untyped.on('newListener', (event: string | symbol) => {
      if (event === 'acquire' || event === 'release') this.leaseListeners++;
    });
    untyped.on('removeListener', (event: string | symbol) => {
      if (event === 'acquire' || event === 'release') this.leaseListeners--;
    });
    this.options = resolvePoolOptions(options);
    this.createBackoff = new Backoff(this.options.connection.backoff);
    if (this.options.callbacks) this.handlerSets.push(this.options.callbacks);
    for (const endpoint of this.options.endpoints) this.recordFor(endpoint);
    this.owner = {
      poolName: this.options.name,
      connectionUp: (connection, first) => this.connectionUp(connection, first),
      connectionDown: (connection, error, wasConnected, endpoint) =>
        this.connectionDown(connection, error, wasConnected, endpoint),
      callbackFailed: (connection, error, callback) => this.callbackFailed(connection, error, callback),
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
  get connections(): PersistentConnection[] {
    return this.ring.map((slot) => slot.conn);
  }

  /** Connections of the pool, those being created or reconnecting included. */
  get size(): number {
    return this.slots.size;
  }

  /**
   * Starts the `min` connections. Resolves once they are up (or at once with
   * `{ wait: false }`); rejects after the open timeout with ERR_CONNECT_TIMEOUT
   * and the last connect error as cause, while the pool keeps trying.
   */
  open(options: OpenOptions = {}): Promise<void> {
    if (this.poolState === 'closing' || this.poolState === 'closed') return Promise.reject(this.closedError());
    const reader = new OptionReader(`open() of pool '${this.name}'`, options, this.name);
    reader.onlyKeys(['wait', 'timeoutMillis']);
    const wait = reader.bool('wait', true);
    const timeoutMillis = reader.int('timeoutMillis', this.options.openTimeoutMillis, 0);
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
   * pool if it was not opened yet.
   */
  acquire(options?: AcquireOptions): Promise<Lease> {
    if (this.poolState !== 'open') {
      if (this.poolState !== 'new') return Promise.reject(this.closedError());
      this.start();
    }
    if (
      this.waiters.size === 0 &&
      this.idle.length !== 0 &&
      this.options.validate === undefined &&
      options?.signal?.aborted !== true
    ) {
      return Promise.resolve(this.lend(this.idle.pop()!, undefined));
    }
    return this.enqueue(options);
  }

  /**
   * A lease at once, or `undefined` when no validated connection is idle or
   * others are waiting (never waits; may start a connection for next time).
   */
  tryAcquire(): Lease | undefined {
    if (this.poolState !== 'open') {
      if (this.poolState !== 'new') return undefined;
      this.start();
    }
    if (this.waiters.size !== 0) return undefined;
    let slot: Slot | undefined;
    while ((slot = this.idle.pop()) !== undefined) {
      const validate = this.options.validate;
      if (validate === undefined) return this.lend(slot, undefined);
      const verdict = this.validateNow(slot);
      if (verdict === true) return this.lend(slot, undefined);
      if (verdict === false) continue;
      // Asynchronous validation: let it finish in the background.
      slot.busy = true;
      this.settleValidation(slot, undefined, verdict);
    }
    if (this.idle.length === 0 && this.slots.size < this.options.max) {
      this.wantSpare = true;
      this.pump();
    }
    return undefined;
  }

  /** Acquires, runs `fn(socket, lease)`, releases; destroys the connection if `fn` throws. */
  async use<T>(fn: (socket: ConnmanSocket, lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<T> {
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

  /** Gives a lease back. ERR_NOT_LEASED for a second release or a lease of another pool. */
  release(lease: Lease): void {
    const slot = this.checkLease(lease, 'release');
    this.endLease(lease);
    if (slot.lease !== lease) return;
    slot.lease = undefined;
    if (slot.retired) return this.checkDrained();
    if (this.poolState !== 'open' || slot.expired) {
      this.retire(slot, undefined);
      this.pump();
      return this.checkDrained();
    }
    if (slot.conn.connected) this.offer(slot);
    // Otherwise a pinned connection is reconnecting: it offers itself when back.
  }

  /** Gives a lease back to be closed and replaced. ERR_NOT_LEASED as for `release`. */
  destroy(lease: Lease, error?: Error): void {
    const slot = this.checkLease(lease, 'destroy');
    this.endLease(lease);
    if (slot.lease !== lease) return;
    slot.lease = undefined;
    this.discard(slot, error);
    this.checkDrained();
  }

  /**
   * A connected connection that is not leased at this moment, round-robin,
   * for shared use (pipelined or multiplexed protocols). Throws ERR_NO_CONNECTION.
   */
  pick(): PersistentConnection {
    const ring = this.ring;
    const n = ring.length;
    for (let i = 0; i < n; i++) {
      const index = (this.pickCursor + i) % n;
      const slot = ring[index];
      if (slot.lease === undefined && !slot.busy && slot.conn.connected) {
        this.pickCursor = index + 1;
        return slot.conn;
      }
    }
    throw new ConnmanError(
      'ERR_NO_CONNECTION',
      `Pool '${this.name}' has no connected connection that is free to share (${this.describeCounts()}); wait for a connect event or raise min.`,
      { pool: this.name, cause: this.lastError },
    );
  }

  /** The pool's connection to `port` (and `host`, if given), or to a Unix socket path. */
  getConnection(port: number | string, host?: string): PersistentConnection | undefined {
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
  addConnection(endpoint: Endpoint, callbacks?: ConnectionCallbacks): PersistentConnection {
    if (this.poolState === 'closing' || this.poolState === 'closed') throw this.closedError();
    const checked = checkEndpoint(`addConnection() of pool '${this.name}'`, 'endpoint', endpoint, this.name);
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
   * (the Nest layer binds `@OnData` and the like this way). Returns a remover.
   */
  addHandlers(callbacks: ConnectionCallbacks): () => void {
    this.handlerSets.push(callbacks);
    const removers = this.ring.map((slot) => slot.conn.addCallbacks(callbacks));
    return () => {
      const index = this.handlerSets.indexOf(callbacks);
      if (index >= 0) this.handlerSets.splice(index, 1);
      for (const remove of removers) remove();
    };
  }

  /** Counts and per-endpoint state, derived on demand. */
  stats(): PoolStats {
    let connected = 0;
    let leased = 0;
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
      idle: this.idle.length,
      leased,
      pending: this.slots.size - connected,
      waiting: this.waiters.size,
      endpoints,
    };
  }

  /**
   * Closes gracefully: new acquires and all waiters get ERR_POOL_CLOSED, idle
   * connections close at once, leases get `timeoutMillis` to come back, then
   * everything closes. Resolves when no socket or timer of the pool is left.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.closePromise) return this.closePromise;
    const reader = new OptionReader(`close() of pool '${this.name}'`, options, this.name);
    reader.onlyKeys(['timeoutMillis']);
    const timeoutMillis = reader.int('timeoutMillis', 10_000, 0);
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

  /** Creates connections while below min, or while waiters outnumber the connections on their way. */
  private pump(): void {
    if (this.pumping || this.poolState !== 'open' || this.options.endpoints.length === 0) return;
    this.pumping = true;
    try {
      const { min, max, maxConcurrentCreates } = this.options;
      while (this.slots.size < max && this.creating < maxConcurrentCreates) {
        if (this.slots.size >= min && this.waiters.size + (this.wantSpare ? 1 : 0) <= this.upcoming()) break;
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

  /** Connections neither connected nor leased: they will serve waiters when up. */
  private upcoming(): number {
    let count = 0;
    for (const slot of this.ring) if (!slot.conn.connected && slot.lease === undefined) count++;
    return count;
  }

  private createSlot(
    endpoints: readonly Endpoint[],
    pinned: boolean,
    callbacks: ConnectionCallbacks | undefined,
  ): Slot {
    const conn = new PersistentConnection(endpoints, callbacks, undefined, {
      resolved: this.options.connection,
      owner: this.owner,
      endpointOffset: this.endpointCursor++,
    });
    for (const set of this.handlerSets) conn.addCallbacks(set);
    const slot = new Slot(conn, pinned);
    this.slots.set(conn, slot);
    this.ring.push(slot);
    return slot;
  }

  // ---- connection events -----------------------------------------------------

  private connectionUp(conn: PersistentConnection, first: boolean): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    if (slot.creating) {
      slot.creating = false;
      this.creating--;
    }
    this.wantSpare = false;
    this.lastError = undefined;
    this.createBackoff.reset();
    this.nextCreateAt = 0;
    const record = this.recordFor(conn.endpoint);
    record.consecutiveFailures = 0;
    record.lastError = undefined;
    if (this.options.maxLifetimeMillis !== 0 && !slot.pinned) {
      const lifetime = this.options.maxLifetimeMillis;
      slot.lifetimeTimer = setTimeout(
        () => this.expire(slot),
        lifetime - Math.floor(Math.random() * lifetime * 0.1),
      ).unref();
    }
    this.emit(first ? 'connect' : 'reconnect', conn);
    // The peer is back: siblings waiting out a backoff delay to it retry now (spread over the floor).
    const window = this.options.connection.backoff.initialDelayMillis;
    for (const other of this.ring)
      if (other !== slot && other.conn.endpoint === conn.endpoint) other.conn.retrySoon(window);
    if (slot.lease === undefined && !slot.busy && !slot.retired) this.offer(slot);
    this.settleOpenWaiters();
    this.pump();
  }

  private connectionDown(conn: PersistentConnection, error: Error, wasConnected: boolean, endpoint: Endpoint): void {
    const slot = this.slots.get(conn);
    if (slot === undefined) return;
    clearTimeout(slot.lifetimeTimer);
    this.removeIdle(slot);
    if (wasConnected) {
      this.emit('reset', error, conn);
    } else {
      this.lastError = error;
      const record = this.recordFor(endpoint);
      record.consecutiveFailures++;
      record.failures++;
      record.lastError = describeError(error);
      this.emit('createError', error, endpoint);
    }
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
      (slot.lease !== undefined || this.slots.size > this.options.min || this.poolState !== 'open')
    ) {
      // Never hand a connection that reset under a borrower to anyone else: replace it.
      this.retire(slot, error);
    }
    // Otherwise it reconnects in place, on its own backoff.
    this.pump();
  }

  private callbackFailed(conn: PersistentConnection, error: unknown, callback: string): void {
    const err = toError(error);
    if (this.listenerCount('error') > 0) {
      this.emit('error', err, conn);
    } else {
      this.options.connection.logger.error(
        `${callback} callback for pool '${this.name}' (${describeEndpoint(conn.endpoint)}) failed: ${describeError(err)}`,
        err.stack,
      );
    }
  }

  // ---- lending ---------------------------------------------------------------

  private enqueue(options: AcquireOptions | undefined): Promise<Lease> {
    let timeoutMillis = this.options.acquireTimeoutMillis;
    let ownTimer = false;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      if (options.timeoutMillis !== undefined) {
        const reader = new OptionReader(`acquire() on pool '${this.name}'`, options, this.name);
        timeoutMillis = reader.int('timeoutMillis', 0, 0);
        ownTimer = timeoutMillis !== this.options.acquireTimeoutMillis;
      }
      signal = options.signal;
      if (signal?.aborted) return Promise.reject(this.abortedError(signal));
    }
    if (this.waiters.size >= this.options.maxWaitingClients) {
      return Promise.reject(
        new ConnmanError(
          'ERR_TOO_MANY_WAITERS',
          `Pool '${this.name}' already has ${this.waiters.size} waiting acquires (maxWaitingClients); shed load, or raise maxWaitingClients or max.`,
          { pool: this.name, cause: this.lastError },
        ),
      );
    }
    const stack = this.options.leakDetectionThresholdMillis !== 0 ? captureStack() : undefined;
    const waiter = new Waiter(signal, timeoutMillis, stack);
    capturing = waiter;
    const promise = new Promise<Lease>(captureResolvers);
    capturing = undefined;
    waiter.deadline = performance.now() + timeoutMillis;
    if (ownTimer) waiter.timer = setTimeout(this.onWaiterTimeout, timeoutMillis, waiter);
    if (signal !== undefined) this.trackSignal(signal);
    this.queue(waiter, false);
    this.serveIdle();
    this.pump();
    return promise;
  }

  /**
   * Puts a waiter in the queue (at the front: a waiter that keeps its turn after
   * a failed validation) and makes sure the shared deadline timer runs, which
   * `offer()` stops whenever the queue empties.
   */
  private queue(waiter: Waiter, front: boolean): void {
    if (front) this.waiters.unshift(waiter);
    else this.waiters.push(waiter);
    if (waiter.timer === undefined && this.deadlineTimer === undefined) {
      this.armDeadline(waiter.deadline - performance.now());
    }
  }

  /** Hands idle connections to waiters (only needed while validation runs). */
  private serveIdle(): void {
    while (this.waiters.size !== 0 && this.idle.length !== 0) this.handOut(this.idle.pop()!, this.waiters.shift()!);
  }

  /** A connection became available: to the oldest waiter, or idle. */
  private offer(slot: Slot): void {
    if (slot.expired || this.poolState !== 'open') {
      this.retire(slot, undefined);
      this.pump();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      slot.idleTick = this.tick;
      this.idle.push(slot);
      return;
    }
    if (this.waiters.size === 0) this.disarmDeadline();
    this.handOut(slot, waiter);
  }

  private handOut(slot: Slot, waiter: Waiter): void {
    if (this.options.validate === undefined) {
      this.grant(slot, waiter);
      return;
    }
    const verdict = this.validateNow(slot);
    if (verdict === true) {
      this.grant(slot, waiter);
    } else if (verdict === false) {
      if (!waiter.settled) this.queue(waiter, true);
      this.serveIdle();
      this.pump();
    } else {
      slot.busy = true;
      this.settleValidation(slot, waiter, verdict);
    }
  }

  private grant(slot: Slot, waiter: Waiter): void {
    if (waiter.settled) {
      this.offer(slot);
      return;
    }
    waiter.settled = true;
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    if (waiter.signal !== undefined) {
      this.untrackSignal(waiter.signal);
      if (waiter.signal.aborted) {
        // Aborted while its connection was being validated.
        waiter.reject(this.abortedError(waiter.signal));
        this.offer(slot);
        return;
      }
    }
    waiter.resolve(this.lend(slot, waiter.stack));
  }

  private lend(slot: Slot, stack: string | undefined): Lease {
    const lease = new Lease(this, slot, slot.conn.socket!);
    slot.lease = lease;
    const threshold = this.options.leakDetectionThresholdMillis;
    if (threshold !== 0) {
      const where = stack ?? captureStack();
      lease.leakTimer = setTimeout(() => {
        this.options.connection.logger.warn(
          `A lease on pool '${this.name}' has been held for more than ${threshold} ms (leakDetectionThresholdMillis); was release() forgotten? Acquired at:\n${where}`,
        );
      }, threshold).unref();
    }
    if (this.leaseListeners !== 0) this.emit('acquire', lease);
    return lease;
  }

  private checkLease(lease: Lease, verb: string): Slot {
    if (!(lease instanceof Lease) || lease.pool !== this) {
      throw new ConnmanError(
        'ERR_NOT_LEASED',
        `Cannot ${verb}: this is not a lease of pool '${this.name}'. Call ${verb}() on the pool the lease came from.`,
        {
          pool: this.name,
        },
      );
    }
    if (lease.done) {
      throw new ConnmanError(
        'ERR_NOT_LEASED',
        `Cannot ${verb}: this lease of pool '${this.name}' was already released or destroyed.`,
        { pool: this.name },
      );
    }
    return lease.slot;
  }

  private endLease(lease: Lease): void {
    lease.done = true;
    if (lease.leakTimer !== undefined) clearTimeout(lease.leakTimer);
    if (this.leaseListeners !== 0) this.emit('release', lease);
  }

  /** Closes a connection for good (a pinned one is reset instead) and creates a replacement if needed. */
  private discard(slot: Slot, error: Error | undefined): void {
    if (slot.pinned) {
      // Reconnects in place; connectionUp offers it again once the new socket is up.
      this.removeIdle(slot);
      slot.conn.reset(error);
    } else {
      this.retire(slot, error);
    }
    this.pump();
  }

  private retire(slot: Slot, reason: Error | undefined): void {
    if (slot.retired) return;
    slot.retired = true;
    clearTimeout(slot.lifetimeTimer);
    this.slots.delete(slot.conn);
    const index = this.ring.indexOf(slot);
    if (index >= 0) this.ring.splice(index, 1);
    this.removeIdle(slot);
    if (slot.creating) {
      slot.creating = false;
      this.creating--;
    }
    const closing = slot.conn.disconnect();
    this.disconnecting.add(closing);
    void closing.then(() => this.disconnecting.delete(closing));
    this.emit('destroy', slot.conn, reason);
  }

  private removeIdle(slot: Slot): void {
    const index = this.idle.indexOf(slot);
    if (index >= 0) this.idle.splice(index, 1);
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
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      return result as PromiseLike<unknown>;
    }
    if (result === false) {
      this.validationFailed(slot, undefined);
      return false;
    }
    return true;
  }

  private settleValidation(slot: Slot, waiter: Waiter | undefined, pending: PromiseLike<unknown>): void {
    let bound = this.options.validateTimeoutMillis;
    if (waiter !== undefined) bound = Math.max(0, Math.min(bound, Math.ceil(waiter.deadline - performance.now())));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, bound, 'timeout');
    });
    Promise.race([pending, timeout]).then(
      (value) => {
        clearTimeout(timer);
        this.afterValidation(
          slot,
          waiter,
          value === 'timeout' ? this.validationTimeoutError(bound) : value === false ? null : undefined,
        );
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.afterValidation(slot, waiter, error ?? null);
      },
    );
  }

  /** `failure` undefined: passed; null: returned false; otherwise the error. */
  private afterValidation(slot: Slot, waiter: Waiter | undefined, failure: unknown): void {
    slot.busy = false;
    if (slot.retired) {
      // Closed meanwhile: the waiter (if any) keeps its turn.
    } else if (failure === undefined && slot.conn.connected) {
      if (waiter !== undefined && !waiter.settled && this.poolState === 'open') this.grant(slot, waiter);
      else this.offer(slot);
      return this.checkDrained();
    } else {
      this.validationFailed(slot, failure === null ? undefined : failure);
    }
    if (waiter !== undefined && !waiter.settled && this.poolState === 'open') {
      this.queue(waiter, true);
      this.serveIdle();
    }
    this.pump();
    this.checkDrained();
  }

  private validationFailed(slot: Slot, cause: unknown): void {
    const error = new ConnmanError(
      'ERR_VALIDATION_FAILED',
      `validate() rejected a connection of pool '${this.name}' to ${describeEndpoint(slot.conn.endpoint)}${cause === undefined ? '' : `: ${describeError(cause)}`}; it is replaced.`,
      { pool: this.name, cause },
    );
    this.removeIdle(slot);
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
      {
        pool: this.name,
      },
    );
  }

  // ---- waiters: timeouts and abort signals ---------------------------------------

  /** A waiter with a timeout of its own passed its deadline. */
  private readonly onWaiterTimeout = (waiter: Waiter): void => {
    if (waiter.settled) return;
    this.timeOut(waiter, this.acquireTimeoutMessage(waiter.timeoutMillis));
  };

  private armDeadline(delay: number): void {
    this.deadlineTimer = setTimeout(this.onDeadline, Math.max(0, Math.ceil(delay)));
  }

  private disarmDeadline(): void {
    if (this.deadlineTimer === undefined) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }

  /**
   * Rejects every waiter (with the pool's own timeout) whose deadline has
   * passed, oldest first, then re-arms for the next one. For these waiters
   * queue order is deadline order, so the walk stops at the first one in time.
   */
  private readonly onDeadline = (): void => {
    this.deadlineTimer = undefined;
    // libuv's loop clock may lag performance.now() by up to a millisecond.
    const now = performance.now() + 1;
    let message: string | undefined;
    let waiter = this.waiters.first;
    while (waiter !== undefined) {
      const next = waiter.next;
      if (waiter.timer === undefined) {
        if (waiter.deadline > now) {
          this.armDeadline(waiter.deadline - now + 1);
          return;
        }
        message ??= this.acquireTimeoutMessage(waiter.timeoutMillis);
        this.timeOut(waiter, message);
      }
      waiter = next;
    }
  };

  private timeOut(waiter: Waiter, message: string): void {
    waiter.settled = true;
    this.waiters.remove(waiter);
    if (waiter.signal !== undefined) this.untrackSignal(waiter.signal);
    // The stack would show only this timer callback, never the caller: skip capturing it.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const error = new ConnmanError('ERR_ACQUIRE_TIMEOUT', message, { pool: this.name, cause: this.lastError });
    Error.stackTraceLimit = limit;
    waiter.reject(error);
  }

  private acquireTimeoutMessage(timeoutMillis: number): string {
    const cause = this.lastError;
    return (
      `Timed out after ${timeoutMillis} ms waiting for a connection from pool '${this.name}' (${this.describeCounts()})` +
      (cause ? `; last connect error: ${describeError(cause)}` : '') +
      '. Release leases sooner, or raise max or acquireTimeoutMillis.'
    );
  }

  /** One abort listener per signal, however many acquires share it. */
  private trackSignal(signal: AbortSignal): void {
    let entry = this.signals.get(signal);
    if (entry === undefined) {
      entry = { count: 0, listener: () => this.abortWaiters(signal) };
      signal.addEventListener('abort', entry.listener, { once: true });
      this.signals.set(signal, entry);
    }
    entry.count++;
  }

  private untrackSignal(signal: AbortSignal): void {
    const entry = this.signals.get(signal);
    if (entry === undefined || --entry.count !== 0) return;
    signal.removeEventListener('abort', entry.listener);
    this.signals.delete(signal);
  }

  private abortWaiters(signal: AbortSignal): void {
    this.signals.delete(signal);
    let waiter = this.waiters.first;
    while (waiter !== undefined) {
      const next = waiter.next;
      if (waiter.signal === signal && !waiter.settled) {
        waiter.settled = true;
        this.waiters.remove(waiter);
        if (waiter.timer !== undefined) clearTimeout(waiter.timer);
        waiter.reject(this.abortedError(signal));
      }
      waiter = next;
    }
  }

  private abortedError(signal: AbortSignal): ConnmanError {
    return new ConnmanError('ERR_ACQUIRE_ABORTED', `acquire() on pool '${this.name}' was aborted by its signal.`, {
      pool: this.name,
      cause: signal.reason,
    });
  }

  // ---- housekeeping -------------------------------------------------------------

  /** Closes connections idle past idleTimeoutMillis while above min (oldest first). */
  private reap(): void {
    this.tick++;
    const { idleTimeoutMillis, reapIntervalMillis, min } = this.options;
    const ticksNeeded = Math.ceil(idleTimeoutMillis / reapIntervalMillis) + 1;
    while (this.slots.size > min && this.idle.length !== 0) {
      const oldest = this.idle[0];
      if (this.tick - oldest.idleTick < ticksNeeded || oldest.pinned) break;
      this.retire(oldest, undefined);
    }
  }

  private expire(slot: Slot): void {
    if (slot.retired) return;
    if (slot.lease !== undefined || slot.busy) {
      slot.expired = true;
      return;
    }
    this.retire(slot, undefined);
    this.pump();
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
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
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
    return `size ${this.slots.size}/${this.options.max}, leased ${leased}, idle ${this.idle.length}, waiting ${this.waiters.size}`;
  }

  // ---- closing -------------------------------------------------------------------

  private async shutdown(timeoutMillis: number): Promise<void> {
    // 1. Lend nothing more; stop creating and reaping.
    this.poolState = 'closing';
    clearTimeout(this.createTimer);
    clearInterval(this.reaper);
    this.disarmDeadline();
    // 2. Every waiter, and every open() still waiting, gets ERR_POOL_CLOSED.
    let waiter: Waiter | undefined;
    while ((waiter = this.waiters.shift()) !== undefined) {
      waiter.settled = true;
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      if (waiter.signal !== undefined) this.untrackSignal(waiter.signal);
      waiter.reject(this.closedError());
    }
    for (const open of this.openWaiters) {
      clearTimeout(open.timer);
      open.reject(this.closedError());
    }
    this.openWaiters = [];
    // 3. Close what nobody holds.
    for (const slot of [...this.ring]) if (slot.lease === undefined && !slot.busy) this.retire(slot, undefined);
    // 4. Give leases (and validations in flight) the grace period to come back.
    if (this.ring.length !== 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, timeoutMillis);
      });
      clearTimeout(timer);
      this.drained = undefined;
    }
    // 5. Close the rest, and wait until every socket is closed.
    for (const slot of [...this.ring]) this.retire(slot, undefined);
    await Promise.all(this.disconnecting);
    this.poolState = 'closed';
    this.emit('close');
  }

  private checkDrained(): void {
    if (this.drained === undefined) return;
    for (const slot of this.ring) if (slot.lease !== undefined || slot.busy) return;
    this.drained();
  }

  /** A short, secret-free description. */
  override toString(): string {
    return `ConnectionPool(${this.name}, ${this.poolState}, ${this.describeCounts()})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function captureStack(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, captureStack);
  return (holder.stack ?? '').replace(/^Error\n/, '');
}
