import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { inspect } from 'node:util';
import { Backoff } from './backoff.js';
import { ConnmanError, describeError, isError, toError } from './errors.js';
import {
  CONNECTION_OPTION_KEYS,
  OptionReader,
  checkEndpoint,
  describeEndpoint,
  resolveConnectionOptions,
  type ResolvedConnectionOptions,
} from './options.js';
import type {
  ConnectionCallbacks,
  ConnectionContext,
  ConnectionOptions,
  ConnmanSocket,
  Endpoint,
  ResumeFunction,
} from './types.js';

/**
 * Where a connection is in its life: not started, connecting, connected,
 * waiting out a backoff delay, or closed for good.
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

/** Typed events of a {@link PersistentConnection}. */
export interface ConnectionEvents {
  /** The first connection is up. */
  connect: [socket: ConnmanSocket];
  /** The connection is up again after a reset. */
  reconnect: [socket: ConnmanSocket];
  /** A chunk was read. */
  data: [chunk: Buffer];
  /** An established connection was lost; a reconnect is scheduled. */
  reset: [error: Error];
  /** A connect attempt failed; another is scheduled. */
  connectError: [error: Error];
  /** A user callback threw or rejected (without a listener, it is logged). */
  error: [error: Error];
  /** `disconnect()` finished: the socket is closed and nothing is scheduled. */
  close: [];
}

/** @internal What a pool learns from the connections it owns. */
export interface ConnectionOwner {
  readonly poolName: string | undefined;
  connectionUp(connection: PersistentConnection, first: boolean): void;
  connectionDown(connection: PersistentConnection, error: Error, wasConnected: boolean, endpoint: Endpoint): void;
  callbackFailed(connection: PersistentConnection, error: unknown, callback: string): void;
}

/** @internal Settings a pool passes to the connections it creates (already validated). */
export interface InternalConnectionSettings {
  resolved: ResolvedConnectionOptions;
  owner?: ConnectionOwner;
  /** Index of the first endpoint to try, so that a pool spreads its connections. */
  endpointOffset?: number;
  random?: () => number;
}

interface CallbackEntry {
  readonly callbacks: ConnectionCallbacks;
  resume: ResumeFunction | Promise<ResumeFunction | undefined> | undefined;
}

class Context implements ConnectionContext {
  constructor(
    readonly pool: string | undefined,
    readonly connection: PersistentConnection,
    public endpoint: Endpoint,
  ) {}
}

const CONNECTION_KEYS: readonly string[] = CONNECTION_OPTION_KEYS;
const LINGER_MILLIS = 1000;

/*
 * Socket listeners are module-level functions that find their connection
 * through a symbol on the socket: no closures per socket, whatever the number
 * of connections and reconnections.
 */
const kOwner = Symbol('connman.connection');
type OwnedSocket = ConnmanSocket & { [kOwner]: PersistentConnection };

function onSocketReady(this: OwnedSocket): void {
  this[kOwner].socketReady(this);
}
function onSocketError(this: OwnedSocket, error: Error): void {
  this[kOwner].socketError(this, error);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kOwner].socketEnd(this);
}
function onSocketClose(this: OwnedSocket): void {
  this[kOwner].socketClosed(this);
}
function onConnectTimeout(connection: PersistentConnection): void {
  connection.connectTimedOut();
}
function onRetryDue(connection: PersistentConnection): void {
  connection.retryDue();
}

/**
 * One socket kept alive to one endpoint (or several, in fail-over order).
 * On any loss it reports a reset and reconnects with exponential backoff and
 * jitter; `disconnect()` ends it for good.
 *
 * Callbacks get connman's names (`onConnect`, `onData`, `onReset`,
 * `onReconnect`); the same happenings are typed events.
 */
export class PersistentConnection extends EventEmitter<ConnectionEvents> {
  /** @internal */ readonly options: ResolvedConnectionOptions;
  private readonly endpoints: readonly Endpoint[];
  private readonly owner: ConnectionOwner | undefined;
  private readonly backoff: Backoff;
  private readonly entries: CallbackEntry[] = [];
  private readonly context: Context;
  private endpointIndex: number;
  private roundFailures = 0;
  private connectionState: ConnectionState = 'idle';
  private current: ConnmanSocket | undefined;
  private live: ConnmanSocket | undefined;
  private everConnected = false;
  private connectedAt = 0;
  private lastReadAt = 0;
  private attemptTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  private failure: Error | undefined;
  /** The first error the current socket reported. */
  private socketFailure: Error | undefined;
  private attemptsMade = 0;
  private retryDueAt = 0;

  /**
   * @param endpoint where to connect; several endpoints are tried in turn (fail-over)
   * @param callbacks connman's callbacks, all optional
   * @param options timeouts, backoff and socket options
   */
  constructor(
    endpoint: Endpoint | readonly Endpoint[],
    callbacks?: ConnectionCallbacks,
    options?: ConnectionOptions,
    /** @internal */ internal?: InternalConnectionSettings,
  ) {
    super();
    const scope = 'a persistent connection';
    const list = Array.isArray(endpoint) ? endpoint : [endpoint];
    if (list.length === 0)
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Invalid option 'endpoint' for ${scope}: give at least one endpoint.`,
      );
    this.endpoints = internal
      ? list
      : list.map((ep, i) => checkEndpoint(scope, list.length > 1 ? `endpoint[${i}]` : 'endpoint', ep));
    if (internal) {
      this.options = internal.resolved;
    } else {
      const reader = new OptionReader(scope, options ?? {});
      reader.onlyKeys(CONNECTION_KEYS);
      this.options = resolveConnectionOptions(reader);
    }
    this.owner = internal?.owner;
    this.backoff = new Backoff(this.options.backoff, internal?.random);
    this.endpointIndex = (internal?.endpointOffset ?? 0) % this.endpoints.length;
    this.context = new Context(this.owner?.poolName, this, this.endpoints[this.endpointIndex]);
    if (callbacks !== undefined) this.addCallbacks(callbacks);
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.connectionState;
  }

  /** True while a socket is connected. */
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
   * Adds a set of callbacks (connman's keys). Each set keeps its own resume
   * function. Returns a function that removes the set.
   */
  addCallbacks(callbacks: ConnectionCallbacks): () => void {
    if (callbacks === null || typeof callbacks !== 'object') {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Invalid callbacks: expected an object with onConnect, onData, onReset or onReconnect.`,
      );
    }
    for (const key of ['onConnect', 'onData', 'onReset', 'onReconnect'] as const) {
      if (callbacks[key] !== undefined && typeof callbacks[key] !== 'function') {
        throw new ConnmanError('ERR_INVALID_OPTIONS', `Invalid callback '${key}': expected a function.`);
      }
    }
    const entry: CallbackEntry = { callbacks, resume: undefined };
    this.entries.push(entry);
    return () => {
      const index = this.entries.indexOf(entry);
      if (index >= 0) this.entries.splice(index, 1);
    };
  }

  /** Starts connecting (once; later calls do nothing). Returns `this`. */
  connect(): this {
    if (this.connectionState === 'idle') this.attempt();
    return this;
  }

  /**
   * Resolves when the connection is up, or rejects after `timeoutMillis` with
   * ERR_CONNECT_TIMEOUT (the last connect error as cause) or when it is
   * disconnected. Starts connecting if needed.
   */
  waitUntilConnected(timeoutMillis = this.options.connectTimeoutMillis): Promise<ConnmanSocket> {
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
   * Drops the current socket as a reset (callbacks run, then it reconnects
   * after the backoff delay). Does nothing when not connected.
   */
  reset(error?: Error): void {
    const socket = this.current;
    if (socket === undefined || this.connectionState === 'closed') return;
    socket.destroy(
      error ??
        new ConnmanError(
          'ERR_CONNECTION_CLOSED',
          `Connection to ${describeEndpoint(this.endpoint)} was reset on request.`,
          { pool: this.context.pool },
        ),
    );
  }

  /**
   * Ends the connection for good: no reconnect, every timer cleared, the
   * socket closed (pending writes get up to one second to flush). Resolves
   * once the socket is closed.
   */
  disconnect(): Promise<void> {
    if (this.connectionState === 'closed') return this.closed ?? Promise.resolve();
    this.connectionState = 'closed';
    clearTimeout(this.retryTimer);
    clearTimeout(this.attemptTimer);
    clearTimeout(this.idleTimer);
    const socket = this.current;
    if (socket === undefined) {
      this.closed = Promise.resolve();
      this.emit('close');
      return this.closed;
    }
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    if (this.live !== undefined && socket.writableLength > 0 && !socket.writableEnded) {
      socket.end();
      this.lingerTimer = setTimeout(() => socket.destroy(), LINGER_MILLIS);
    } else {
      socket.destroy();
    }
    return this.closed;
  }

  private attempt(): void {
    this.retryTimer = undefined;
    const endpoint = this.endpoints[this.endpointIndex];
    this.context.endpoint = endpoint;
    this.connectionState = 'connecting';
    this.attemptsMade++;
    this.socketFailure = undefined;
    let socket: OwnedSocket;
    try {
      socket = this.openSocket(endpoint) as OwnedSocket;
    } catch (error) {
      // Options that net/tls reject synchronously: a failed attempt like any other.
      this.afterSocket(undefined, toError(error), endpoint);
      return;
    }
    socket[kOwner] = this;
    this.current = socket;
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', onSocketReady);
    socket.on('error', onSocketError);
    socket.once('end', onSocketEnd);
    socket.once('close', onSocketClose);
    socket.on('data', this.onData);
    this.attemptTimer = setTimeout(onConnectTimeout, this.options.connectTimeoutMillis, this);
  }

  /** @internal */
  connectTimedOut(): void {
    this.attemptTimer = undefined;
    this.current?.destroy(
      new ConnmanError(
        'ERR_CONNECT_TIMEOUT',
        `Connecting to ${describeEndpoint(this.context.endpoint)} took longer than connectTimeoutMillis (${this.options.connectTimeoutMillis} ms).`,
        { pool: this.context.pool },
      ),
    );
  }

  /** @internal */
  socketError(socket: ConnmanSocket, error: Error): void {
    if (socket === this.current) this.socketFailure ??= error;
  }

  /** @internal The peer sent FIN: never leave a half-open socket behind. */
  socketEnd(socket: ConnmanSocket): void {
    if (socket === this.current) {
      this.socketFailure ??= new ConnmanError(
        'ERR_CONNECTION_CLOSED',
        `${describeEndpoint(this.context.endpoint)} closed the connection.`,
        {
          pool: this.context.pool,
        },
      );
    }
    socket.destroy();
  }

  private openSocket(endpoint: Endpoint): ConnmanSocket {
    const o = this.options;
    const where = endpoint.path !== undefined ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port };
    const base = {
      ...o.socketOptions,
      noDelay: o.noDelay,
      keepAlive: o.keepAlive,
      keepAliveInitialDelay: o.keepAliveInitialDelayMillis,
    };
    if (endpoint.tls) {
      const tlsOptions = endpoint.tls === true ? {} : endpoint.tls;
      return tls.connect({ ...base, ...tlsOptions, ...where } as tls.ConnectionOptions);
    }
    return net.connect({ ...base, ...where } as net.NetConnectOpts);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.options.readIdleTimeoutMillis !== 0) this.lastReadAt = Date.now();
    const entries = this.entries;
    for (let i = 0; i < entries.length; i++) {
      const callbacks = entries[i].callbacks;
      if (callbacks.onData !== undefined) this.invoke(callbacks, callbacks.onData, chunk, 'onData');
    }
    this.emit('data', chunk);
  };

  /** @internal */
  socketReady(socket: ConnmanSocket): void {
    if (socket !== this.current || this.connectionState !== 'connecting') return;
    clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
    this.connectionState = 'connected';
    this.live = socket;
    this.failure = undefined;
    this.roundFailures = 0;
    this.connectedAt = Date.now();
    if (this.options.readIdleTimeoutMillis !== 0) {
      this.lastReadAt = this.connectedAt;
      this.armIdleTimer(this.options.readIdleTimeoutMillis);
    }
    const first = !this.everConnected;
    this.everConnected = true;
    for (const entry of this.entries) this.runConnectCallbacks(entry, socket, first);
    this.emit(first ? 'connect' : 'reconnect', socket);
    if (this.live === socket) this.owner?.connectionUp(this, first);
  }

  private runConnectCallbacks(entry: CallbackEntry, socket: ConnmanSocket, first: boolean): void {
    const resume = first ? undefined : entry.resume;
    entry.resume = undefined;
    const callbacks = entry.callbacks;
    if (typeof resume === 'function') {
      this.invoke(callbacks, resume, socket, 'resume function');
    } else if (resume !== undefined) {
      // onReset gave a promise: decide once it settles.
      resume.then((fn) => {
        if (this.live !== socket) return;
        if (fn) this.invoke(callbacks, fn, socket, 'resume function');
        else this.runConnectCallbacks(entry, socket, false);
      });
    } else {
      if (callbacks.onConnect) this.invoke(callbacks, callbacks.onConnect, socket, 'onConnect');
      if (!first && callbacks.onReconnect) this.invoke(callbacks, callbacks.onReconnect, socket, 'onReconnect');
    }
  }

  /** @internal */
  socketClosed(socket: ConnmanSocket): void {
    if (socket !== this.current) return;
    const failure = this.socketFailure;
    const endpoint = this.context.endpoint;
    this.current = undefined;
    this.live = undefined;
    this.socketFailure = undefined;
    clearTimeout(this.attemptTimer);
    clearTimeout(this.idleTimer);
    this.attemptTimer = this.idleTimer = undefined;
    if (this.connectionState === 'closed') {
      clearTimeout(this.lingerTimer);
      this.resolveClosed?.();
      this.emit('close');
      return;
    }
    this.afterSocket(socket, failure, endpoint);
  }

  /** Common path after an attempt failed or a connection was lost. */
  private afterSocket(socket: ConnmanSocket | undefined, failure: Error | undefined, endpoint: Endpoint): void {
    const wasConnected = this.connectionState === 'connected';
    const error =
      failure ??
      new ConnmanError(
        'ERR_CONNECTION_CLOSED',
        wasConnected
          ? `Connection to ${describeEndpoint(endpoint)} closed.`
          : `Connecting to ${describeEndpoint(endpoint)} failed: the socket closed.`,
        { pool: this.context.pool },
      );
    this.failure = error;
    this.connectionState = 'backoff';
    if (wasConnected) {
      if (Date.now() - this.connectedAt >= this.options.backoff.resetAfterMillis) this.backoff.reset();
      for (const entry of this.entries) this.runResetCallback(entry, error);
      this.emit('reset', error);
    } else {
      this.roundFailures++;
      this.emit('connectError', error);
    }
    this.owner?.connectionDown(this, error, wasConnected, endpoint);
    if (this.connectionState !== 'backoff') return; // disconnected by a callback or the owner
    this.scheduleRetry(wasConnected, socket === undefined);
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
    if (this.connectionState !== 'backoff' || this.retryTimer === undefined) return;
    if (this.retryDueAt - Date.now() <= withinMillis) return;
    clearTimeout(this.retryTimer);
    this.armRetry(Math.floor(random() * withinMillis));
  }

  private runResetCallback(entry: CallbackEntry, error: Error): void {
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
    if (typeof result === 'function') {
      entry.resume = result as ResumeFunction;
    } else if (isThenable(result)) {
      entry.resume = Promise.resolve(result).then(
        (value) => (typeof value === 'function' ? (value as ResumeFunction) : undefined),
        (rejected: unknown) => {
          this.reportCallbackError(rejected, 'onReset');
          return undefined;
        },
      );
    }
  }

  private invoke<A>(
    self: ConnectionCallbacks,
    fn: (arg: A, context: ConnectionContext) => unknown,
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

  private reportCallbackError(error: unknown, callback: string): void {
    if (this.owner !== undefined) {
      this.owner.callbackFailed(this, error, callback);
    } else if (this.listenerCount('error') > 0) {
      this.emit('error', toError(error));
    } else {
      this.options.logger.error(
        `${callback} callback of the connection to ${describeEndpoint(this.endpoint)} failed: ${describeError(error)}`,
        isError(error) ? error.stack : undefined,
      );
    }
  }

  private armIdleTimer(delay: number): void {
    this.idleTimer = setTimeout(() => {
      const socket = this.live;
      if (socket === undefined) return;
      const limit = this.options.readIdleTimeoutMillis;
      const silent = Date.now() - this.lastReadAt;
      if (silent < limit) {
        this.armIdleTimer(limit - silent);
        return;
      }
      socket.destroy(
        new ConnmanError(
          'ERR_READ_IDLE_TIMEOUT',
          `${describeEndpoint(this.endpoint)} sent nothing for ${silent} ms (readIdleTimeoutMillis ${limit}); the connection is considered dead.`,
          { pool: this.context.pool },
        ),
      );
    }, delay);
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

  /** A short, secret-free description (TLS options are never shown). */
  override toString(): string {
    return `PersistentConnection(${describeEndpoint(this.endpoint)}, ${this.connectionState})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
