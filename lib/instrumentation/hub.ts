import * as diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { Lease } from '../core/connection-pool.js';
import {
  acquireTimeoutChannel,
  connectChannel,
  connectErrorChannel,
  leakChannel,
  requestTracing,
  resetChannel,
  type AcquireTimeoutMessage,
  type ConnectErrorMessage,
  type ConnectMessage,
  type LeakMessage,
  type RequestTraceContext,
  type ResetMessage,
} from '../core/diagnostics.js';
import type { AnyFrame } from '../core/types.js';
import { duplicateName, type PoolLike, type PoolSource } from './targets.js';

/** How a `request()` ended, for `connman_requests_total`. */
export type RequestOutcome = 'ok' | 'error' | 'timeout';

/**
 * @internal What a backend (Prometheus, OpenTelemetry) is told. Every call
 * concerns a pool the hub instruments; times are in seconds.
 */
export interface Observer {
  /** A connection became ready; `seconds` from the start of its attempt (DNS, TCP, TLS, handshake). */
  connected(pool: PoolLike, seconds: number): void;
  /** A connect attempt (or its handshake) failed. */
  connectFailed(pool: PoolLike): void;
  /** A ready connection was lost. */
  reset(pool: PoolLike): void;
  /** An `acquire()` got a lease after waiting `seconds` (failed acquires are not timed; timeouts are counted apart). */
  acquired(pool: PoolLike, seconds: number): void;
  /** An `acquire()` timed out (ERR_ACQUIRE_TIMEOUT). */
  acquireTimedOut(pool: PoolLike): void;
  /** A lease was held past `leakDetectionThresholdMillis`. */
  leaked(pool: PoolLike): void;
  /** A `request()` on one of the pool's connections settled. */
  requested(pool: PoolLike, outcome: RequestOutcome): void;
  /**
   * A lease came back after `seconds`. Only observers that define it make the
   * hub listen to the pools' `release` events.
   */
  leaseHeld?(pool: PoolLike, seconds: number): void;
}

/**
 * Upper bounds of the histogram buckets, in seconds: from half a millisecond
 * (an acquire from an idle connection takes microseconds) to 30 s (the
 * default `acquireTimeoutMillis`).
 */
export const BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

interface Attachment {
  acquire: (lease: Lease<AnyFrame>, waitedMillis: number) => void;
  release: ((lease: Lease<AnyFrame>) => void) | undefined;
  close: () => void;
}

/**
 * @internal One set of metrics (a registry and prefix, or a meter) and the
 * pools it covers, from one or more instrument calls. It subscribes to the
 * library's diagnostics channels while it has sources, resolves each message
 * to an instrumented pool by name (first source first), and tells its
 * observer. A pool name resolves to one pool at a time, so nothing is counted
 * twice however many calls cover it.
 */
export class Hub {
  private readonly sources: PoolSource[] = [];
  private readonly attached = new Map<PoolLike, Attachment>();
  private readonly heldSince = new WeakMap<Lease<AnyFrame>, number>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly observer: Observer,
    /** The public call, for messages: `instrumentPrometheus()`. */
    private readonly call: string,
  ) {}

  /** True when no source is left. */
  get empty(): boolean {
    return this.sources.length === 0;
  }

  /**
   * Adds the pools of one instrument call. ERR_INVALID_OPTIONS if one of them
   * has the name of a different pool already covered. Returns its remover.
   */
  add(source: PoolSource): () => void {
    for (const pool of source.pools()) {
      const known = this.find(pool.name);
      if (known !== undefined && known !== pool) throw duplicateName(this.call, pool.name);
    }
    this.sources.push(source);
    this.unsubscribe ??= this.subscribe();
    for (const pool of source.pools()) this.adopt(pool);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.sources.splice(this.sources.indexOf(source), 1);
      for (const pool of [...this.attached.keys()]) if (this.find(pool.name) !== pool) this.detach(pool);
      if (this.sources.length === 0) {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
      }
    };
  }

  /** The instrumented pool named `name` now, if any (and listened to, when the observer needs it). */
  resolve(name: string): PoolLike | undefined {
    const pool = this.find(name);
    if (pool !== undefined) this.adopt(pool);
    return pool;
  }

  /** The instrumented pools now, one per name. */
  pools(): PoolLike[] {
    const byName = new Map<string, PoolLike>();
    for (const source of this.sources) {
      for (const pool of source.pools()) if (!byName.has(pool.name)) byName.set(pool.name, pool);
    }
    const pools = [...byName.values()];
    for (const pool of pools) this.adopt(pool);
    return pools;
  }

  private find(name: string): PoolLike | undefined {
    for (const source of this.sources) {
      const pool = source.lookup(name);
      if (pool !== undefined) return pool;
    }
    return undefined;
  }

  // ---- pool events (acquire waits, lease hold times) ----------------------------------

  private adopt(pool: PoolLike): void {
    if (this.attached.has(pool) || pool.state === 'closed') return;
    const observer = this.observer;
    const timesLeases = observer.leaseHeld !== undefined;
    const attachment: Attachment = {
      // The pool's own measure of the wait: no tracing of acquire() needed.
      acquire: (lease, waitedMillis) => {
        observer.acquired(pool, waitedMillis / 1000);
        if (timesLeases) this.heldSince.set(lease, performance.now());
      },
      release: timesLeases
        ? (lease) => {
            const since = this.heldSince.get(lease);
            if (since === undefined) return;
            this.heldSince.delete(lease);
            observer.leaseHeld!(pool, (performance.now() - since) / 1000);
          }
        : undefined,
      close: () => this.detach(pool),
    };
    pool.on('acquire', attachment.acquire);
    if (attachment.release !== undefined) pool.on('release', attachment.release);
    pool.once('close', attachment.close);
    this.attached.set(pool, attachment);
  }

  private detach(pool: PoolLike): void {
    const attachment = this.attached.get(pool);
    if (attachment === undefined) return;
    this.attached.delete(pool);
    pool.off('acquire', attachment.acquire);
    if (attachment.release !== undefined) pool.off('release', attachment.release);
    pool.off('close', attachment.close);
  }

  // ---- diagnostics channels ---------------------------------------------------------

  /** Subscribes to every channel the observer uses; returns the unsubscriber. */
  private subscribe(): () => void {
    const observer = this.observer;
    const named = (name: string | undefined): PoolLike | undefined =>
      name === undefined ? undefined : this.resolve(name);
    const handlers: [diagnostics.Channel, (message: unknown) => void][] = [
      [
        connectChannel,
        (message) => {
          const { pool: name, durationMillis } = message as ConnectMessage;
          const pool = named(name);
          if (pool !== undefined) observer.connected(pool, durationMillis / 1000);
        },
      ],
      [
        connectErrorChannel,
        (message) => {
          const pool = named((message as ConnectErrorMessage).pool);
          if (pool !== undefined) observer.connectFailed(pool);
        },
      ],
      [
        resetChannel,
        (message) => {
          const pool = named((message as ResetMessage).pool);
          if (pool !== undefined) observer.reset(pool);
        },
      ],
      [
        acquireTimeoutChannel,
        (message) => {
          const pool = named((message as AcquireTimeoutMessage).pool);
          if (pool !== undefined) observer.acquireTimedOut(pool);
        },
      ],
      [
        leakChannel,
        (message) => {
          const { pool: name, lease } = message as LeakMessage;
          const pool = named(name);
          if (pool !== undefined && lease.pool === pool) observer.leaked(pool);
        },
      ],
      [
        requestTracing.asyncEnd,
        (message) => {
          const context = message as RequestTraceContext;
          const pool = named(context.pool);
          if (pool === undefined) return;
          const { error } = context;
          observer.requested(
            pool,
            error === undefined ? 'ok' : errorCode(error) === 'ERR_REQUEST_TIMEOUT' ? 'timeout' : 'error',
          );
        },
      ],
    ];
    // On the very channel objects the core publishes on. Node 20 can hand out a second object for a
    // name (a finalizer of a dead channel removing its live successor from the registry: nodejs/node#59910),
    // so the object `channel(name)` gives, when it differs, is subscribed too (harmless: nothing publishes there).
    const subscribed: [diagnostics.Channel, (message: unknown) => void][] = [];
    for (const [channel, handler] of handlers) {
      channel.subscribe(handler);
      subscribed.push([channel, handler]);
      const named = diagnostics.channel(channel.name);
      if (named !== channel) {
        named.subscribe(handler);
        subscribed.push([named, handler]);
      }
    }
    return () => {
      for (const [channel, handler] of subscribed) channel.unsubscribe(handler);
      for (const pool of [...this.attached.keys()]) this.detach(pool);
    };
  }
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}
