import type { AnyFrame } from './types.js';
import { ConnectionPool, closeTimeoutOf, type CloseOptions } from './connection-pool.js';
import { ConnmanError } from './errors.js';
import { isOptionBag } from './options.js';
import { PersistentConnection } from './persistent-connection.js';
import type { PoolOptions } from './pool-options.js';
import type { ConnectionCallbacks, ConnectionOptions, Endpoint } from './types.js';

/** What `disconnect()` accepts: a connection, a pool, or a pool's name. */
export type DisconnectTarget = PersistentConnection<AnyFrame> | ConnectionPool<AnyFrame> | string;

/**
 * The registry of pools and single persistent connections (connman's
 * top-level API). Pool names are unique.
 */
export class Connman {
  private readonly pools = new Map<string, ConnectionPool<AnyFrame>>();
  private readonly singles = new Set<PersistentConnection<AnyFrame>>();

  /** Names of the registered pools. */
  get poolNames(): string[] {
    return [...this.pools.keys()];
  }

  /** Creates and registers a pool (nothing connects until `open()` or the first `acquire()`). */
  createPool<F = Buffer>(
    name: string,
    options: Omit<PoolOptions<F>, 'name'> & { name?: string } = {},
  ): ConnectionPool<F> {
    checkName(name, 'createPool()');
    if (!isOptionBag(options)) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `createPool('${name}') needs an object of pool options (or nothing), got ${options === null ? 'null' : typeof options}.`,
        { pool: name },
      );
    }
    if (options.name !== undefined && options.name !== name) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `createPool('${name}') was given options named '${String(options.name)}'; use one name.`,
        { pool: name },
      );
    }
    this.assertFreeName(name);
    return this.addPool(new ConnectionPool<F>({ ...options, name } as PoolOptions<F>));
  }

  /** Registers a pool built elsewhere. ERR_DUPLICATE_POOL if its name is taken. */
  addPool<F>(pool: ConnectionPool<F>): ConnectionPool<F> {
    if (!(pool instanceof ConnectionPool)) {
      throw new ConnmanError('ERR_INVALID_OPTIONS', 'addPool() needs a ConnectionPool.');
    }
    this.assertFreeName(pool.name);
    this.pools.set(pool.name, pool as ConnectionPool<AnyFrame>);
    pool.once('close', () => {
      if (this.pools.get(pool.name) === pool) this.pools.delete(pool.name);
    });
    return pool;
  }

  /** The pool named `name`; ERR_UNKNOWN_POOL (listing the known names) otherwise. */
  getPool<F = Buffer>(name: string): ConnectionPool<F> {
    checkName(name, 'getPool()');
    const pool = this.pools.get(name) as ConnectionPool<F> | undefined;
    if (pool === undefined) {
      const known = this.poolNames;
      throw new ConnmanError(
        'ERR_UNKNOWN_POOL',
        `No pool named '${name}'; ${known.length ? `registered pools: ${known.map((n) => `'${n}'`).join(', ')}` : 'no pool is registered'}.`,
        { pool: name },
      );
    }
    return pool;
  }

  /** True when a pool named `name` is registered. */
  hasPool(name: string): boolean {
    return this.pools.has(name);
  }

  /** Opens one persistent connection at once (connman's `connect`); takes the protocol options too. */
  connect<F = Buffer>(
    endpoint: Endpoint,
    callbacks?: ConnectionCallbacks<F>,
    options?: ConnectionOptions<F>,
  ): PersistentConnection<F> {
    const connection = new PersistentConnection<F>(endpoint, callbacks, options);
    this.singles.add(connection);
    connection.once('close', () => this.singles.delete(connection));
    return connection.connect();
  }

  /**
   * A connection to `port` (and `host`, if given) or to a Unix socket path,
   * among the single connections first, then the pools'.
   */
  getConnection(port: number | string, host?: string): PersistentConnection<AnyFrame> | undefined {
    for (const connection of this.singles) {
      const ep = connection.endpoint;
      if (typeof port === 'string' ? ep.path === port : ep.port === port && (host === undefined || ep.host === host))
        return connection;
    }
    for (const pool of this.pools.values()) {
      const found = pool.getConnection(port, host);
      if (found) return found;
    }
    return undefined;
  }

  /** Ends one connection, or closes one pool (by object or name) and unregisters it. */
  async disconnect(target: DisconnectTarget, options?: CloseOptions): Promise<void> {
    if (
      !(target instanceof PersistentConnection) &&
      !(target instanceof ConnectionPool) &&
      typeof target !== 'string'
    ) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        'disconnect() needs a PersistentConnection, a ConnectionPool or a pool name.',
      );
    }
    if (target instanceof PersistentConnection) {
      this.singles.delete(target);
      return target.disconnect();
    }
    const pool = typeof target === 'string' ? this.getPool(target) : target;
    // Checked before the pool leaves the registry: bad options change nothing.
    closeTimeoutOf(options === undefined ? {} : options, 'disconnect()', pool.name);
    if (this.pools.get(pool.name) === pool) this.pools.delete(pool.name);
    return pool.close(options);
  }

  /** Ends every connection and closes every pool. */
  async disconnectAll(options?: CloseOptions): Promise<void> {
    // Checked before anything is closed or forgotten: bad options change nothing.
    closeTimeoutOf(options === undefined ? {} : options, 'disconnectAll()');
    const pools = [...this.pools.values()];
    const singles = [...this.singles];
    this.pools.clear();
    this.singles.clear();
    await Promise.all([
      ...pools.map((pool) => pool.close(options)),
      ...singles.map((connection) => connection.disconnect()),
    ]);
  }

  private assertFreeName(name: string): void {
    if (this.pools.has(name)) {
      throw new ConnmanError(
        'ERR_DUPLICATE_POOL',
        `A pool named '${name}' already exists; pool names must be unique.`,
        { pool: name },
      );
    }
  }
}

function checkName(name: unknown, call: string): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `${call} needs a pool name: a non-empty string, got ${name === null ? 'null' : typeof name}.`,
    );
  }
}
