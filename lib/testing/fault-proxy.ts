import { EventEmitter, once } from 'node:events';
import type { TcpEndpoint } from '../core/types.js';
import * as net from 'node:net';
import { Arrivals } from './arrivals.js';
import {
  invalidOption,
  listenPort,
  loopbackHost,
  onlyKnownKeys,
  optionalSignal,
  optionsObject,
  positiveInteger,
} from './checks.js';
import { Link, type ByteCounters, type LinkContext } from './fault-link.js';
import {
  FaultDirection,
  checkToxics,
  type FaultDirectionName,
  type ToxicChange,
  type ToxicSettings,
} from './toxics.js';

/** Where a {@link FaultProxy} forwards to: any TCP endpoint (it need not be on loopback). */
export interface FaultProxyTarget {
  /** Host name or address of the real server. */
  host: string;
  /** Its port, 1 to 65535. */
  port: number;
}

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /**
   * Loopback address to listen on: `127.0.0.1` (default), another `127.x.y.z`,
   * `::1`, or `localhost` (listens on 127.0.0.1). Anything else is refused:
   * the proxy never listens beyond this machine.
   */
  host?: string;
  /** Port to listen on. Default 0: any free port (read it from `proxy.port`). */
  port?: number;
  /** Random source for jitter, returning [0, 1). Default `Math.random`; pass your own for repeatable runs. */
  random?: () => number;
}

/** Events of a {@link FaultProxy}. */
export interface FaultProxyEvents {
  /** A client connection was accepted; `count` is its number since the start (1 for the first). */
  connection: [count: number];
  /**
   * The proxy read `bytes` bytes in `direction` (before any toxic acts on
   * them): with {@link FaultProxy.stats}, a way to wait until a request has
   * reached the proxy, e.g. before resetting the connection it travels on.
   */
  read: [direction: FaultDirectionName, bytes: number];
}

/** Byte counts of one direction of a {@link FaultProxy}. */
export interface FaultDirectionStats {
  /** Bytes read from the sending side since the start. */
  readBytes: number;
  /** Bytes delivered to the receiving side since the start. */
  deliveredBytes: number;
  /**
   * Bytes read and not yet delivered on the open connections: held by a stall,
   * waiting out a latency or a slicer. Bytes of a connection that closes before
   * they are delivered are dropped and no longer counted.
   */
  queuedBytes: number;
}

/** What {@link FaultProxy.stats} returns. */
export interface FaultProxyStats {
  /** True while it listens. */
  listening: boolean;
  /** Connections open through the proxy. */
  connections: number;
  /** Client connections accepted since the start. */
  accepted: number;
  /** Client to server. */
  upstream: FaultDirectionStats;
  /** Server to client. */
  downstream: FaultDirectionStats;
}

/** Options of {@link FaultProxy.waitForConnection}. */
export interface WaitForConnectionOptions {
  /** Gives up waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const OPTION_KEYS = ['host', 'port', 'random'] as const;

/**
 * An in-process TCP proxy on loopback that injects network faults between
 * your code and a server, modelled on Toxiproxy's toxics. Point your client at
 * `proxy.endpoint` instead of the server, then switch faults on and off while
 * connections are open:
 *
 * - latency with jitter: `latencyMillis`, `jitterMillis`;
 * - stall (a zombie peer; bytes are held, then delivered by `heal()`): `stalled`;
 * - limit (close after N bytes): `limitBytes`;
 * - slicer (small chunks, optional pause between them): `sliced`, `sliceBytes`, `sliceDelayMillis`;
 * - reset (RST to the clients): `resetPeers()` once, or `resetting` for as long as it is on;
 * - down / up (close the listener and every connection; listen again on the same port).
 *
 * A toxic set on the proxy applies to both directions; `proxy.upstream`
 * (client to server) and `proxy.downstream` (server to client) set one
 * direction. Every change applies to the connections already open, not only to
 * new ones, and the order of bytes within a direction is always kept.
 *
 * Framework-free (Node built-ins only): use it with any test runner. After
 * `close()` no socket, server or timer of the proxy is left.
 *
 * @example
 * const proxy = await FaultProxy.start({ host: '127.0.0.1', port: redisPort });
 * const pool = new ConnectionPool({ name: 'redis', ...proxy.endpoint });
 * proxy.downstream.latencyMillis = 200; // replies arrive 200 ms late
 * await proxy.resetPeers(); // every client sees ECONNRESET
 * await proxy.close();
 */
export class FaultProxy extends EventEmitter<FaultProxyEvents> implements ToxicSettings {
  /** Toxics of the client-to-server direction (what the client writes). */
  readonly upstream: FaultDirection;
  /** Toxics of the server-to-client direction (what the client reads). */
  readonly downstream: FaultDirection;
  private server: net.Server | undefined;
  private starting: Promise<void> | undefined;
  private readonly links = new Set<Link>();
  private readonly arrivals = new Arrivals();
  private readonly listenHost: string;
  private listenPort: number;
  /** What the connections share: toxics, the jitter's random source, byte counters. */
  private readonly context: LinkContext;
  private readonly counters: Record<FaultDirectionName, ByteCounters> = {
    upstream: { readBytes: 0, deliveredBytes: 0 },
    downstream: { readBytes: 0, deliveredBytes: 0 },
  };
  private resetAll = false;

  private constructor(
    /** The server the proxy forwards to. */
    readonly target: FaultProxyTarget,
    options: FaultProxyOptions,
  ) {
    super();
    this.listenHost = loopbackHost('FaultProxy', 'host', options.host);
    this.listenPort = listenPort('FaultProxy', 'port', options.port);
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw invalidOption('FaultProxy', 'random', 'a function returning a number in [0, 1)', options.random);
    }
    const changed = (direction: FaultDirection, change: ToxicChange): void => {
      for (const link of this.links) link.changed(direction, change);
    };
    this.upstream = new FaultDirection('upstream', changed);
    this.downstream = new FaultDirection('downstream', changed);
    this.context = {
      upstream: this.upstream,
      downstream: this.downstream,
      random: options.random ?? Math.random,
      counters: this.counters,
      read: (direction, bytes) => {
        if (this.listenerCount('read') > 0) this.emit('read', direction, bytes);
      },
    };
  }

  /**
   * Starts a proxy to `target` and resolves once it listens.
   *
   * @throws ConnmanError `ERR_INVALID_OPTIONS` (naming the option) for a bad
   *   target or option, a non-loopback `host` included; the listen error
   *   (e.g. `EADDRINUSE`) if it cannot listen.
   */
  static async start(target: FaultProxyTarget, options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const checked = optionsObject('FaultProxy', 'options', options) as FaultProxyOptions;
    onlyKnownKeys('FaultProxy', checked, OPTION_KEYS);
    const proxy = new FaultProxy(checkTarget(target), checked);
    await proxy.up();
    return proxy;
  }

  /** The port it listens on (kept across `down()` / `up()`). */
  get port(): number {
    return this.listenPort;
  }

  /** The loopback address it listens on. */
  get host(): string {
    return this.listenHost;
  }

  /** Where clients connect: `{ host, port }` of the proxy, ready to spread into pool options. */
  get endpoint(): TcpEndpoint {
    return { host: this.listenHost, port: this.listenPort };
  }

  /** True while it listens (between `up()` and `down()`). */
  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Connections open through the proxy right now. */
  get connections(): number {
    return this.links.size;
  }

  /** Client connections accepted since the start (across `down()` / `up()`). */
  get accepted(): number {
    return this.arrivals.count;
  }

  /**
   * Resolves once the proxy has accepted `count` connections since the start
   * (at once if it already has): `await proxy.waitForConnection(proxy.accepted + 1)`
   * waits for the next one. Every accept also emits `connection`. Waits go on
   * across `down()` / `up()`; pass a `signal` to give up.
   */
  waitForConnection(count: number, options: WaitForConnectionOptions = {}): Promise<void> {
    positiveInteger('FaultProxy.waitForConnection', 'count', count);
    const signal = optionalSignal('FaultProxy.waitForConnection', 'signal', options?.signal);
    return this.arrivals.waitFor(count, signal);
  }

  /** Counts of connections and bytes, per direction. */
  stats(): FaultProxyStats {
    const queued = { upstream: 0, downstream: 0 };
    for (const link of this.links) {
      queued.upstream += link.upstream.queued;
      queued.downstream += link.downstream.queued;
    }
    return {
      listening: this.listening,
      connections: this.links.size,
      accepted: this.accepted,
      upstream: { ...this.counters.upstream, queuedBytes: queued.upstream },
      downstream: { ...this.counters.downstream, queuedBytes: queued.downstream },
    };
  }

  // Toxics for both directions. Setting one sets it on `upstream` and on
  // `downstream`; reading one gives the stronger of the two.

  /** Latency of both directions, in ms (reads the larger). Default 0. See {@link ToxicSettings.latencyMillis}. */
  get latencyMillis(): number {
    return Math.max(this.upstream.latencyMillis, this.downstream.latencyMillis);
  }
  set latencyMillis(value: number) {
    this.set({ latencyMillis: value });
  }

  /** Jitter of both directions, in ms (reads the larger). Default 0. See {@link ToxicSettings.jitterMillis}. */
  get jitterMillis(): number {
    return Math.max(this.upstream.jitterMillis, this.downstream.jitterMillis);
  }
  set jitterMillis(value: number) {
    this.set({ jitterMillis: value });
  }

  /** Stall of both directions (reads true if either is stalled). Default false. See {@link ToxicSettings.stalled}. */
  get stalled(): boolean {
    return this.upstream.stalled || this.downstream.stalled;
  }
  set stalled(value: boolean) {
    this.set({ stalled: value });
  }

  /**
   * Byte limit of each direction (reads the lower). Default `Infinity`. Each
   * direction counts its own bytes. See {@link ToxicSettings.limitBytes}.
   */
  get limitBytes(): number {
    return Math.min(this.upstream.limitBytes, this.downstream.limitBytes);
  }
  set limitBytes(value: number) {
    this.set({ limitBytes: value });
  }

  /** Slicer of both directions (reads true if either slices). Default false. See {@link ToxicSettings.sliced}. */
  get sliced(): boolean {
    return this.upstream.sliced || this.downstream.sliced;
  }
  set sliced(value: boolean) {
    this.set({ sliced: value });
  }

  /** Slice size of both directions (reads the smaller). Default 1. See {@link ToxicSettings.sliceBytes}. */
  get sliceBytes(): number {
    return Math.min(this.upstream.sliceBytes, this.downstream.sliceBytes);
  }
  set sliceBytes(value: number) {
    this.set({ sliceBytes: value });
  }

  /** Pause between slices, both directions (reads the larger). Default 0. See {@link ToxicSettings.sliceDelayMillis}. */
  get sliceDelayMillis(): number {
    return Math.max(this.upstream.sliceDelayMillis, this.downstream.sliceDelayMillis);
  }
  set sliceDelayMillis(value: number) {
    this.set({ sliceDelayMillis: value });
  }

  /**
   * While true, every connection is reset (RST to the client, the server side
   * closed): those open now at once, new ones as soon as they are accepted. The
   * client sees ECONNRESET. Default false; `heal()` turns it off.
   */
  get resetting(): boolean {
    return this.resetAll;
  }
  /** Turns resetting on (resets every connection now and on accept) or off. */
  set resetting(value: boolean) {
    if (typeof value !== 'boolean') throw invalidOption('FaultProxy', 'resetting', 'true or false', value);
    this.resetAll = value;
    if (value) void this.resetPeers();
  }

  /**
   * Sets several toxics on both directions at once; every value is checked
   * before any changes. Returns the proxy.
   *
   * @example proxy.set({ latencyMillis: 50, jitterMillis: 10 })
   */
  set(settings: Partial<ToxicSettings>): this {
    const checked = checkToxics(settings, '');
    this.upstream.set(checked);
    this.downstream.set(checked);
    return this;
  }

  /** Removes every toxic (both directions, and `resetting`); held and delayed bytes are delivered at once, in order. */
  heal(): void {
    this.resetAll = false;
    this.upstream.heal();
    this.downstream.heal();
  }

  /**
   * RST to every client connection the proxy has accepted (Toxiproxy's
   * `reset_peer`); resolves once they are closed. A client's connect can
   * complete before the proxy has accepted it: after opening a pool of `n`
   * connections, `await proxy.waitForConnection(n)` first, or a connection
   * may escape the reset.
   */
  async resetPeers(): Promise<void> {
    await Promise.all([...this.links].map((link) => link.close('reset-client')));
  }

  /** Listens again on the same port after `down()` (nothing to do if it listens). */
  async up(): Promise<void> {
    if (this.server) return;
    this.starting ??= this.listen().finally(() => (this.starting = undefined));
    await this.starting;
  }

  /**
   * Closes the listener and every connection (a FIN to each client): new
   * connections are refused until `up()`. Resolves once all are closed.
   */
  async down(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const server = this.server;
    this.server = undefined;
    const closing = [...this.links].map((link) => link.close('close'));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(closing);
  }

  /** Heals, then goes down: no socket, server or timer of the proxy is left. `up()` may listen again. */
  async close(): Promise<void> {
    this.heal();
    await this.down();
  }

  private async listen(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    server.listen({ port: this.listenPort, host: this.listenHost });
    try {
      await once(server, 'listening');
    } catch (error) {
      server.close();
      throw error;
    }
    this.listenPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  private accept(client: net.Socket): void {
    const count = this.arrivals.arrive();
    client.setNoDelay(true);
    if (this.resetAll) {
      client.on('error', () => undefined);
      client.resetAndDestroy();
    } else {
      const server = net.connect({
        host: this.target.host,
        port: this.target.port,
        allowHalfOpen: true,
        noDelay: true,
      });
      const link = new Link(client, server, this.context);
      this.links.add(link);
      void link.closed.then(() => this.links.delete(link));
    }
    this.emit('connection', count);
  }
}

function checkTarget(target: unknown): FaultProxyTarget {
  if (target === null || typeof target !== 'object' || Array.isArray(target)) {
    throw invalidOption('FaultProxy', 'target', 'an object { host, port }', target);
  }
  onlyKnownKeys('FaultProxy target', target, ['host', 'port']);
  const { host, port } = target as Record<string, unknown>;
  if (typeof host !== 'string' || host.length === 0) {
    throw invalidOption('FaultProxy', 'target.host', 'a non-empty host name or address', host);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidOption('FaultProxy', 'target.port', 'an integer from 1 to 65535', port);
  }
  return { host, port };
}
