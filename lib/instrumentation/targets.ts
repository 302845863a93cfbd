import type { ConnectionPool } from '../core/connection-pool.js';
import type { Connman } from '../core/connman.js';
import { ConnmanError } from '../core/errors.js';
import type { AnyFrame } from '../core/types.js';

/** What `instrumentPrometheus` and `instrumentOpenTelemetry` observe. */
export type InstrumentationTarget = ConnectionPool<AnyFrame> | Connman | readonly ConnectionPool<AnyFrame>[];

/** @internal A pool, as the instrumentation uses it (public API only). */
export type PoolLike = ConnectionPool<AnyFrame>;

/**
 * @internal The pools one call instruments: a fixed set (a pool, an array),
 * or whatever a `Connman` holds at the moment it is asked (pools it gets later
 * included, pools it drops excluded).
 */
export interface PoolSource {
  /** The instrumented pool named `name`, if any. */
  lookup(name: string): PoolLike | undefined;
  /** The instrumented pools now. */
  pools(): Iterable<PoolLike>;
}

class FixedSource implements PoolSource {
  constructor(private readonly byName: ReadonlyMap<string, PoolLike>) {}

  lookup(name: string): PoolLike | undefined {
    return this.byName.get(name);
  }

  pools(): Iterable<PoolLike> {
    return this.byName.values();
  }
}

class ConnmanSource implements PoolSource {
  constructor(private readonly connman: Connman) {}

  lookup(name: string): PoolLike | undefined {
    return this.connman.hasPool(name) ? this.connman.getPool<AnyFrame>(name) : undefined;
  }

  *pools(): Iterable<PoolLike> {
    for (const name of this.connman.poolNames) {
      const pool = this.lookup(name);
      if (pool !== undefined) yield pool;
    }
  }
}

/** @internal Checks `target` (duck-typed, so that a second copy of the library works too) and wraps it. */
export function resolveTarget(target: unknown, call: string): PoolSource {
  if (isConnman(target)) return new ConnmanSource(target);
  const list: readonly unknown[] | undefined = Array.isArray(target) ? target : isPool(target) ? [target] : undefined;
  if (list === undefined) {
    throw new ConnmanError(
      'ERR_INVALID_OPTIONS',
      `Invalid argument 'target' of ${call}: expected a ConnectionPool, a Connman or an array of ConnectionPools, got ${describe(target)}.`,
    );
  }
  const byName = new Map<string, PoolLike>();
  list.forEach((pool, index) => {
    if (!isPool(pool)) {
      throw new ConnmanError(
        'ERR_INVALID_OPTIONS',
        `Invalid argument 'target[${index}]' of ${call}: expected a ConnectionPool, got ${describe(pool)}.`,
      );
    }
    const other = byName.get(pool.name);
    if (other !== undefined && other !== pool) throw duplicateName(call, pool.name);
    byName.set(pool.name, pool);
  });
  return new FixedSource(byName);
}

/** @internal Two different pools answer to one name: their series would mix. */
export function duplicateName(call: string, name: string): ConnmanError {
  return new ConnmanError(
    'ERR_INVALID_OPTIONS',
    `${call} was given two different pools named '${name}'. Metrics are labelled by pool name, so each name must belong to one pool: rename one, or instrument it on another registry or meter.`,
    { pool: name },
  );
}

function isPool(value: unknown): value is PoolLike {
  const pool = value as Partial<PoolLike> | null;
  return (
    typeof pool === 'object' &&
    pool !== null &&
    typeof pool.name === 'string' &&
    typeof pool.stats === 'function' &&
    typeof pool.on === 'function' &&
    typeof pool.off === 'function'
  );
}

function isConnman(value: unknown): value is Connman {
  const connman = value as Partial<Connman> | null;
  return (
    typeof connman === 'object' &&
    connman !== null &&
    typeof connman.hasPool === 'function' &&
    typeof connman.getPool === 'function' &&
    Array.isArray(connman.poolNames)
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? `an object` : typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
